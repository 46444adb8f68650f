import { generateKeyPairSync } from 'node:crypto';
import {
  cardKeyId,
  exportCardPublicKeyJwk,
  exportCardPublicKeyPem,
  importCardPublicKeyJwk,
  importCardPublicKeyPem,
  type CardPublicJwk,
} from '../../src/cards/card-keys.ts';
import { CardTokenError, nepalDate, peekCardToken, signCardToken, verifyCardToken, type CardClaims } from '../../src/cards/card-token.ts';
import { respelledLastCharacter } from '../support/token-spellings.ts';

const tenantKeys = generateKeyPairSync('ed25519');
const otherTenantKeys = generateKeyPairSync('ed25519');
const claims: CardClaims = {
  tenant: 'ndup',
  memberId: '5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90',
  memberNumber: 'NDUP-2082-000417',
  validUntil: '2027-07-16',
  tokenId: 'b7d1e0b2-6a3f-4c59-8f0e-0c9a4d2e6f13',
};
const beforeExpiry = { now: new Date('2026-01-01T00:00:00Z') };
const token = signCardToken(tenantKeys.privateKey, claims);

function payloadOf(t: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function withPayload(t: string, change: (p: Record<string, unknown>) => void): string {
  const payload = payloadOf(t);
  change(payload);
  return `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${t.split('.')[1]}`;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof CardTokenError) return err.code;
    throw err;
  }
  return undefined;
}

test('a signed token verifies and returns its claims and key id', () => {
  expect(verifyCardToken(tenantKeys.publicKey, token, beforeExpiry)).toEqual({ ...claims, keyId: cardKeyId(tenantKeys.publicKey) });
  expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
});

test('the payload holds only the documented fields, never personal data', () => {
  const withExtras = { ...claims, phone: '+9779812345678', name: 'Sita Sharma' } as CardClaims;
  const signed = signCardToken(tenantKeys.privateKey, withExtras);
  expect(Object.keys(payloadOf(signed)).sort()).toEqual(['exp', 'jti', 'kid', 'mid', 'num', 'ten', 'v']);
  expect(Buffer.from(signed.split('.')[0]!, 'base64url').toString()).not.toMatch(/9812345678|Sita/);
});

test('signing rejects claims out of shape', () => {
  expect(() => signCardToken(tenantKeys.privateKey, { ...claims, memberNumber: 'sita@example.com' })).toThrow();
  expect(() => signCardToken(tenantKeys.privateKey, { ...claims, validUntil: '2027-02-30' })).toThrow();
  expect(() => signCardToken(tenantKeys.privateKey, { ...claims, tenant: 'Bad Slug' })).toThrow();
});

test('a changed claim breaks the signature', () => {
  const forged = withPayload(token, (p) => { p.num = 'NDUP-2082-000001'; });
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, forged, beforeExpiry))).toBe('TOKEN_BAD_SIGNATURE');
  const extended = withPayload(token, (p) => { p.exp = '2099-12-31'; });
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, extended, beforeExpiry))).toBe('TOKEN_BAD_SIGNATURE');
});

test('a changed signature byte, or another tenant\'s key, fails as a bad signature', () => {
  const [payload, signature] = token.split('.') as [string, string];
  const flipped = `${payload}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, flipped, beforeExpiry))).toBe('TOKEN_BAD_SIGNATURE');
  expect(codeOf(() => verifyCardToken(otherTenantKeys.publicKey, token, beforeExpiry))).toBe('TOKEN_BAD_SIGNATURE');
  const relabelled = withPayload(signCardToken(otherTenantKeys.privateKey, claims), (p) => { p.kid = cardKeyId(tenantKeys.publicKey); });
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, relabelled, beforeExpiry))).toBe('TOKEN_BAD_SIGNATURE');
});

test.each([
  ['that is empty', ''],
  ['with one segment', 'abc'],
  ['with three segments', `${token}.x`],
  ['that is not base64url', token.replace('.', '.+/')],
  // The last character of a 64-byte signature carries 4 unused bits: setting one keeps the bytes.
  ['in non-canonical base64url', respelledLastCharacter(token, 1)],
  ['with a short signature', `${token.split('.')[0]}.${Buffer.alloc(32).toString('base64url')}`],
  ['whose payload is not JSON', `${Buffer.from('not json').toString('base64url')}.${token.split('.')[1]}`],
  ['of an unknown version', withPayload(token, (p) => { p.v = 2; })],
  ['missing a claim', withPayload(token, (p) => { delete p.mid; })],
  ['with an extra field', withPayload(token, (p) => { p.phone = '+9779812345678'; })],
  ['that is too long', `${'A'.repeat(2000)}.${token.split('.')[1]}`],
])('a token %s is malformed', (_, bad) => {
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, bad, beforeExpiry))).toBe('TOKEN_MALFORMED');
});

test('a card is valid through the end of its last day in Nepal time (UTC+05:45)', () => {
  expect(verifyCardToken(tenantKeys.publicKey, token, { now: new Date('2027-07-16T18:14:59.999Z') }).memberId).toBe(claims.memberId);
  let expired: unknown;
  try {
    verifyCardToken(tenantKeys.publicKey, token, { now: new Date('2027-07-16T18:15:00Z') });
  } catch (err) {
    expired = err;
  }
  expect(expired).toBeInstanceOf(CardTokenError);
  expect(expired).toMatchObject({ code: 'TOKEN_EXPIRED', claims: { memberNumber: claims.memberNumber } });
  expect(nepalDate(new Date('2027-07-16T18:15:00Z'))).toBe('2027-07-17');
});

test('an expired forgery is reported as a bad signature, not as expired', () => {
  const forged = withPayload(token, (p) => { p.exp = '2020-01-01'; });
  expect(codeOf(() => verifyCardToken(tenantKeys.publicKey, forged))).toBe('TOKEN_BAD_SIGNATURE');
});

test('peeking reads the tenant without verifying, to pick the key', () => {
  const forged = withPayload(token, (p) => { p.ten = 'other-party'; });
  expect(peekCardToken(forged).tenant).toBe('other-party');
  expect(codeOf(() => peekCardToken('garbage'))).toBe('TOKEN_MALFORMED');
});

test('keys of the wrong kind are refused', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  expect(() => signCardToken(rsa.privateKey, claims)).toThrow(TypeError);
  expect(() => signCardToken(tenantKeys.publicKey, claims)).toThrow(TypeError);
  expect(() => verifyCardToken(rsa.publicKey, token)).toThrow(TypeError);
  expect(() => importCardPublicKeyPem(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString())).toThrow(TypeError);
});

test('the public key round-trips through SPKI PEM and JWK and still verifies', () => {
  const pem = exportCardPublicKeyPem(tenantKeys.publicKey);
  expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  expect(verifyCardToken(importCardPublicKeyPem(pem), token, beforeExpiry).tokenId).toBe(claims.tokenId);
  const jwk = exportCardPublicKeyJwk(tenantKeys.publicKey);
  expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: peekCardToken(token).keyId });
  expect(jwk).not.toHaveProperty('d');
  expect(verifyCardToken(importCardPublicKeyJwk(JSON.parse(JSON.stringify(jwk)) as CardPublicJwk), token, beforeExpiry).tokenId).toBe(claims.tokenId);
  expect(() => importCardPublicKeyJwk({ ...jwk, kid: cardKeyId(otherTenantKeys.publicKey) })).toThrow(/does not match/);
});
