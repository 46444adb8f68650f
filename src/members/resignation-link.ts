import { purposeMac, sameBytes } from '../crypto/keyed-mac.ts';
import { DomainError } from '../errors/domain-error.ts';
import type { TenantKeys } from '../tenants/keyring.ts';

/**
 * The secret of a member's resignation link: an HMAC, under the party's registration key, of
 * the party, the member and the link's expiry. Nothing is stored: only the party's keys can
 * make one, and a changed member or expiry fails the check.
 */
export function resignationToken(keys: TenantKeys, tenantId: string, memberId: string, expiresAt: string): string {
  return purposeMac(keys.registrationKey, 'resignation-link', tenantId, memberId, expiresAt).toString('base64url');
}

/**
 * Checks a resignation link's token and expiry.
 * @throws DomainError TOKEN_BAD_SIGNATURE (any other member, expiry or party), TOKEN_EXPIRED.
 */
export function checkResignationToken(keys: TenantKeys, tenantId: string, memberId: string, expiresAt: string, token: string, now: Date): void {
  if (!sameBytes(Buffer.from(token), Buffer.from(resignationToken(keys, tenantId, memberId, expiresAt)))) {
    throw new DomainError('TOKEN_BAD_SIGNATURE', 'the resignation link is not one this party sent', { field: 'token' });
  }
  if (Date.parse(expiresAt) <= now.getTime()) throw new DomainError('TOKEN_EXPIRED', 'the resignation link has expired; ask for a new one', { field: 'expires' });
}

/** The link a member follows: the party's resignation page with the member, expiry and token. */
export function resignationLink(base: string, memberId: string, expiresAt: string, token: string): string {
  const query = new URLSearchParams({ member: memberId, expires: expiresAt, token });
  return `${base}?${query.toString()}`;
}
