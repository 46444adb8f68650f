import { canonicalBase64urlBytes } from '../crypto/base64url.ts';
import { purposeMac, sameBytes } from '../crypto/keyed-mac.ts';
import type { TenantKeys } from '../tenants/keyring.ts';

/** How long a member's transfer link works. */
export const TRANSFER_LINK_TTL_MS = 7 * 86_400_000;

/**
 * The secret of a member's transfer link: `<expiry, unix seconds>.<HMAC>` under the party's
 * registration key over the member and the expiry. Nothing is stored: only the party's keys can
 * make one, and it stops working at its expiry.
 */
export function transferLinkToken(keys: TenantKeys, memberId: string, expiresAt: Date): string {
  const expiry = Math.floor(expiresAt.getTime() / 1000);
  return `${expiry}.${purposeMac(keys.registrationKey, 'transfer-link', memberId, String(expiry)).toString('base64url')}`;
}

/** Whether the token is one this party made for this member, and has not expired. Constant time in the MAC. */
export function verifyTransferLinkToken(keys: TenantKeys, memberId: string, token: string, now: Date): boolean {
  const match = /^(\d{9,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const expiry = Number(match[1]);
  const given = canonicalBase64urlBytes(match[2]!);
  return given !== null && sameBytes(given, purposeMac(keys.registrationKey, 'transfer-link', memberId, String(expiry))) && expiry * 1000 > now.getTime();
}
