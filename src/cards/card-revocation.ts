import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { executeMemberCommand } from '../members/member-store.ts';

/** Why a card was revoked: a word from this list, never free text (it enters the member's event stream). */
/** The reasons staff may give when revoking a card by hand. */
export const MANUAL_REVOCATION_REASONS = ['lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended'] as const;
/**
 * Every reason a card is revoked for: by hand, or by the product itself with a status change
 * (`suspended`, `expelled`, `resigned`, `deceased`) or a transfer (`superseded`: replaced by a
 * card naming the member's new ward, or by a renewal: a card valid to the new date), or a lapse
 * (`lapsed`: the term ended unpaid). The public card check answers it.
 */
export const CARD_REVOCATION_REASONS = [...MANUAL_REVOCATION_REASONS, 'suspended', 'expelled', 'resigned', 'deceased', 'superseded', 'lapsed'] as const;
export type CardRevocationReason = (typeof CARD_REVOCATION_REASONS)[number];

export interface CardRevocation {
  cardId: string;
  memberId: string;
  reason: CardRevocationReason;
  revokedAt: Date;
}

const CurrentCard = z.object({ id: z.string() });
const Revoked = z.object({ revokedAt: z.number() });

/**
 * Revokes the member's current ID card, in the caller's tenant transaction: the id_cards row
 * gets revoked_at and the reason (audited with the transaction's actor), and the member's
 * stream an IdCardRevoked event. From the commit on, the public card check answers the card's
 * token `valid: false, reason: CARD_REVOKED`, and the member has no current card to download.
 * @returns the revocation, or null when the member holds no current card (nothing is written).
 */
export async function revokeCurrentCard(tx: TenantTransaction, tenantId: string, memberId: string, reason: CardRevocationReason, actor: string,
  workflowId?: string): Promise<CardRevocation | null> {
  const card = await tx.maybeOne(sql.type(CurrentCard)`SELECT id FROM id_cards WHERE member_id = ${memberId} AND revoked_at IS NULL FOR UPDATE`);
  if (!card) return null;
  let revokedAt = new Date(0);
  await executeMemberCommand(tx, { tenantId, memberId, metadata: { actor, ...(workflowId && { workflowId }) }, idempotencyKey: `card:${card.id}:revoke` },
    { type: 'RevokeCard', cardId: card.id, reason },
    async () => {
      revokedAt = new Date(await tx.oneFirst(sql.type(Revoked)`
        UPDATE id_cards SET revoked_at = clock_timestamp(), revocation_reason = ${reason} WHERE id = ${card.id} RETURNING revoked_at AS "revokedAt"`));
    });
  return { cardId: card.id, memberId, reason, revokedAt };
}

/** The reasons a card is revoked for when its holder leaves good standing. */
export type LeavingReason = Extract<CardRevocationReason, 'membership_ended' | 'suspended' | 'expelled' | 'resigned' | 'deceased' | 'lapsed'>;

/**
 * What a member leaving good standing calls (suspension, expulsion, resignation, death, lapse
 * after admission): revokes their current card, if they hold one, naming the status they left
 * into (`membership_ended` when none is named). Safe to call again: a member without a current
 * card is left as they are.
 */
export function revokeCardOnLeaving(tx: TenantTransaction, tenantId: string, memberId: string, actor: string, reason: LeavingReason = 'membership_ended'): Promise<CardRevocation | null> {
  return revokeCurrentCard(tx, tenantId, memberId, reason, actor);
}
