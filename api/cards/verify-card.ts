import type { DatabasePool } from 'slonik';
import { z } from 'zod';
import { findCardByToken } from '../../src/cards/card-store.ts';
import { CardTokenError, peekCardToken, verifyCardToken } from '../../src/cards/card-token.ts';
import { withTenant, type TenantContext } from '../../src/db/tenant-context.ts';
import type { Keyring } from '../../src/tenants/keyring.ts';
import { findTenantBySlug } from '../../src/tenants/tenants.ts';
import { cardPublicKeys } from '../../src/cards/card-public-keys.ts';
import { CARD_REVOCATION_REASONS, type CardRevocationReason } from '../../src/cards/card-revocation.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const CardVerificationAttributes = z.object({
  valid: z.boolean(),
  reason: z.enum(['CARD_REVOKED', 'CARD_UNKNOWN']).nullable().describe('why a genuine, unexpired token is not valid'),
  revocationReason: z.enum(CARD_REVOCATION_REASONS).nullable()
    .describe('for a revoked card, why: lost, stolen, damaged, issued_in_error, membership_ended, or the status its holder left good standing into (suspended, expelled, resigned, deceased)'),
  memberNumber: z.string(),
  validUntil: z.string().describe('the last valid day, YYYY-MM-DD, Nepal time'),
  party: z.string().describe("the party's name"),
});
export type CardVerification = z.infer<typeof CardVerificationAttributes> & { tokenId: string };

/**
 * Checks a card token against the signing party's keys (derived from their authenticated
 * private keys, retired ones while their cards can be valid), then that the card it names
 * is the member's recorded, unrevoked card.
 * @throws CardTokenError TOKEN_MALFORMED, TOKEN_BAD_SIGNATURE (also when the party named signs no
 *   cards here) or TOKEN_EXPIRED: all 422, naming the token.
 */
export async function verifyCard(deps: { pool: DatabasePool; keyring: Keyring }, token: string, audit: Omit<TenantContext, 'tenantId' | 'actor'>, now: Date): Promise<CardVerification> {
  const { pool, keyring } = deps;
  const peeked = peekCardToken(token);
  const tenant = await findTenantBySlug(pool, peeked.tenant);
  if (!tenant) throw new CardTokenError('TOKEN_BAD_SIGNATURE', 'the token names a party that does not sign cards here');
  const { keys, card } = await withTenant(pool, { ...audit, tenantId: tenant.id, actor: 'card-verifier' }, async (tx) => ({
    keys: await cardPublicKeys(tx, keyring, tenant, now),
    card: UUID.test(peeked.tokenId) && UUID.test(peeked.memberId)
      ? await findCardByToken(tx, peeked.tokenId, peeked.memberId)
      : null,
  }));
  // A kid no key of the party's has is checked against the current key, and fails as a bad signature.
  const key = keys.find((k) => k.kid === peeked.keyId) ?? keys[0];
  if (!key) throw new CardTokenError('TOKEN_BAD_SIGNATURE', 'the party has no card-signing key');
  const claims = verifyCardToken(key.key, token, { now });
  const reason = !card ? 'CARD_UNKNOWN' : card.revokedAt !== null ? 'CARD_REVOKED' : null;
  const revocationReason = card?.revokedAt != null ? (card.revocationReason as CardRevocationReason | null) : null;
  return { tokenId: claims.tokenId, valid: reason === null, reason, revocationReason, memberNumber: claims.memberNumber, validUntil: claims.validUntil, party: tenant.name };
}
