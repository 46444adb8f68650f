import { randomBytes } from 'node:crypto';
import { issueToken, verifyToken } from '../../src/auth/tokens.ts';
import { forgedSignature, respelledLastCharacter } from '../support/token-spellings.ts';

const secret = randomBytes(32);
const claims = { userId: '5a0c8a3e-7f0e-4c53-9d4b-2f4f2f9d8a11', tenantId: '0b7d0d6e-2f55-4a7e-8c2c-6a9c1f0e2b33' };

test('a token verifies to the user and the party it was issued for', async () => {
  const { token } = await issueToken(secret, claims);
  expect(await verifyToken(secret, token)).toEqual(claims);
});

test('a changed signature is refused', async () => {
  const { token } = await issueToken(secret, claims);
  expect(await verifyToken(secret, forgedSignature(token))).toBeNull();
});

test('every other spelling of the same signature bytes is refused (its unused trailing bits set)', async () => {
  const { token } = await issueToken(secret, claims);
  // A 32-byte signature is 43 characters: the last one's two low bits decode to nothing.
  const respellings = [1, 2, 3].map((bits) => respelledLastCharacter(token, bits));
  for (const respelled of respellings) {
    expect(Buffer.from(respelled.split('.')[2]!, 'base64url')).toEqual(Buffer.from(token.split('.')[2]!, 'base64url'));
    expect(await verifyToken(secret, respelled)).toBeNull();
  }
});

test("another secret's token, or an expired one, is refused", async () => {
  expect(await verifyToken(secret, (await issueToken(randomBytes(32), claims)).token)).toBeNull();
  expect(await verifyToken(secret, (await issueToken(secret, claims, new Date(Date.now() - 3_600_000))).token)).toBeNull();
});
