import { randomBytes, randomUUID } from 'node:crypto';
import type { TenantKeys } from '../../src/tenants/keyring.ts';
import { transferLinkToken, verifyTransferLinkToken } from '../../src/transfers/transfer-link.ts';

const keysWith = (registrationKey: Buffer) => ({ registrationKey }) as unknown as TenantKeys;
const keys = keysWith(randomBytes(32));
const member = randomUUID();
const now = new Date('2026-12-05T00:00:00Z');
const tomorrow = new Date(now.getTime() + 86_400_000);

test("a link works for its member until it expires, under its party's key only", () => {
  const token = transferLinkToken(keys, member, tomorrow);
  expect(verifyTransferLinkToken(keys, member, token, now)).toBe(true);
  expect(verifyTransferLinkToken(keys, member, token, new Date(tomorrow.getTime() + 1_000))).toBe(false);
  expect(verifyTransferLinkToken(keys, randomUUID(), token, now)).toBe(false);
  expect(verifyTransferLinkToken(keysWith(randomBytes(32)), member, token, now)).toBe(false);
});

test('a link whose expiry was moved, or whose MAC was changed or cut, does not work', () => {
  const token = transferLinkToken(keys, member, tomorrow);
  const [expiry, mac] = token.split('.') as [string, string];
  expect(verifyTransferLinkToken(keys, member, `${Number(expiry) + 86_400}.${mac}`, now)).toBe(false);
  expect(verifyTransferLinkToken(keys, member, `${expiry}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`, now)).toBe(false);
  expect(verifyTransferLinkToken(keys, member, `${expiry}.${mac.slice(0, 20)}`, now)).toBe(false);
  // The last of 43 characters carries two unused bits: every other spelling of the same bytes is refused.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(mac.at(-1)!);
  for (const spare of [1, 2, 3]) {
    const respelled = `${expiry}.${mac.slice(0, -1)}${alphabet[(last & ~3) | ((last + spare) & 3)]}`;
    expect(verifyTransferLinkToken(keys, member, respelled, now)).toBe(false);
  }
  expect(verifyTransferLinkToken(keys, member, '', now)).toBe(false);
});
