import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** A tenant's card-signing public key as published for offline verifiers (RFC 8037 OKP JWK). */
export type CardPublicJwk = {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
};

/** @throws TypeError when the key is not an Ed25519 key. */
export function assertEd25519(key: KeyObject, type: 'private' | 'public'): void {
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== type) {
    throw new TypeError(`expected an Ed25519 ${type} key, got a ${key.asymmetricKeyType ?? 'symmetric'} ${key.type} key`);
  }
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  const { x } = publicKey.export({ format: 'jwk' });
  if (!x) throw new TypeError('public key has no x coordinate');
  return Buffer.from(x, 'base64url');
}

/**
 * The key id written into every token: the first 8 bytes of SHA-256 over the raw 32-byte
 * public key, base64url. Derived, so a verifier can check it against any copy of the key.
 * @throws TypeError when the key is not Ed25519 (a private key is reduced to its public half).
 */
export function cardKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  assertEd25519(publicKey, 'public');
  return createHash('sha256').update(rawPublicKey(publicKey)).digest().subarray(0, 8).toString('base64url');
}

/** @throws TypeError when the key is not an Ed25519 public key. */
export function exportCardPublicKeyPem(publicKey: KeyObject): string {
  assertEd25519(publicKey, 'public');
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

/** @throws TypeError when the PEM is not an Ed25519 SPKI public key. */
export function importCardPublicKeyPem(pem: string): KeyObject {
  const key = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
  assertEd25519(key, 'public');
  return key;
}

/** @throws TypeError when the key is not an Ed25519 public key. */
export function exportCardPublicKeyJwk(publicKey: KeyObject): CardPublicJwk {
  assertEd25519(publicKey, 'public');
  const x = rawPublicKey(publicKey).toString('base64url');
  return { kty: 'OKP', crv: 'Ed25519', x, kid: cardKeyId(publicKey), alg: 'EdDSA', use: 'sig' };
}

/** @throws TypeError when the JWK is not an Ed25519 public key or its `kid` does not match it. */
export function importCardPublicKeyJwk(jwk: JsonWebKey & { kid?: string }): KeyObject {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError('expected an OKP Ed25519 JWK');
  }
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  assertEd25519(key, 'public');
  if (jwk.kid !== undefined && jwk.kid !== cardKeyId(key)) throw new TypeError(`JWK kid ${jwk.kid} does not match its key`);
  return key;
}
