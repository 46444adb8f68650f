import { jwtVerify, SignJWT } from 'jose';
import { canonicalBase64urlBytes } from '../crypto/base64url.ts';

const ISSUER = 'sadasya';
const AUDIENCE = 'sadasya-api';
export const TOKEN_LIFETIME_SECONDS = 15 * 60;

export interface TokenClaims {
  userId: string;
  tenantId: string;
}

/** A short-lived HS256 token naming the user and the tenant; roles are never in it. */
export async function issueToken(secret: Uint8Array, claims: TokenClaims, now = new Date()): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const token = await new SignJWT({ tid: claims.tenantId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + TOKEN_LIFETIME_SECONDS)
    .sign(secret);
  return { token, expiresAt: new Date((issuedAt + TOKEN_LIFETIME_SECONDS) * 1000) };
}

/**
 * @returns the claims, or null for any invalid, expired or foreign token. A token is refused
 * unless its base64url is canonical: the last character of a 32-byte signature has two unused
 * bits, and a decoder that ignores them would accept four spellings of one token.
 */
export async function verifyToken(secret: Uint8Array, token: string): Promise<TokenClaims | null> {
  if (!token.split('.').every((segment) => canonicalBase64urlBytes(segment) !== null)) return null;
  try {
    const { payload } = await jwtVerify(token, secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || typeof payload.tid !== 'string') return null;
    return { userId: payload.sub, tenantId: payload.tid };
  } catch {
    return null;
  }
}
