import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

const CardSubjectSchema = z.object({
  memberNumber: z.string().nullable(),
  nameEn: z.string(),
  nameNe: z.string().nullable(),
  ward: z.string(),
  committee: z.string().nullable(),
  cardId: z.string().nullable(),
  tenantSlug: z.string(),
  tenantName: z.string(),
  timeZone: z.string(),
  cardValidityMs: z.number(),
  calendar: z.enum(['BS', 'AD']),
});
/** Everything a member's card shows, and the card the member already holds, if any. */
export type CardSubject = z.infer<typeof CardSubjectSchema>;

/** One read of the card's subject: the member, ward, committee and party. */
export async function readCardSubject(tx: TenantTransaction, memberId: string): Promise<CardSubject | null> {
  return tx.maybeOne(sql.type(CardSubjectSchema)`
    SELECT m.member_number AS "memberNumber", m.full_name_en AS "nameEn", m.full_name_ne AS "nameNe",
           w.name_en AS ward, c.name AS committee,
           (SELECT id FROM id_cards WHERE member_id = m.id AND revoked_at IS NULL) AS "cardId",
           t.slug AS "tenantSlug", t.name AS "tenantName", t.time_zone AS "timeZone",
           (extract(epoch FROM t.card_validity) * 1000)::float8 AS "cardValidityMs", t.calendar
    FROM members m JOIN geography_nodes w ON w.id = m.ward_id LEFT JOIN committees c ON c.id = m.committee_id
      JOIN tenants t ON t.id = m.tenant_id
    WHERE m.id = ${memberId}`);
}

export interface NewCard {
  cardId: string;
  tenantId: string;
  memberId: string;
  memberNumber: string;
  storageKey: string;
  sha256: Buffer;
  tokenId: string;
  validUntil: string;
}

export async function insertCard(tx: TenantTransaction, card: NewCard): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO id_cards (id, tenant_id, member_id, member_number, storage_key, sha256, token_id, valid_until)
    VALUES (${card.cardId}, ${card.tenantId}, ${card.memberId}, ${card.memberNumber}, ${card.storageKey},
            ${sql.binary(card.sha256)}, ${card.tokenId}, ${card.validUntil})`);
}

const CurrentCardSchema = z.object({ storageKey: z.string(), memberNumber: z.string() });

/** The member's current (unrevoked) card. */
export async function findCurrentCard(tx: TenantTransaction, memberId: string): Promise<z.infer<typeof CurrentCardSchema> | null> {
  return tx.maybeOne(sql.type(CurrentCardSchema)`
    SELECT storage_key AS "storageKey", member_number AS "memberNumber" FROM id_cards WHERE member_id = ${memberId} AND revoked_at IS NULL`);
}

const IssuedCardSchema = z.object({ revokedAt: z.number().nullable(), revocationReason: z.string().nullable() });

/** The card a token was issued for: whether it is on record, and revoked. */
export async function findCardByToken(tx: TenantTransaction, tokenId: string, memberId: string): Promise<z.infer<typeof IssuedCardSchema> | null> {
  return tx.maybeOne(sql.type(IssuedCardSchema)`SELECT revoked_at AS "revokedAt", revocation_reason AS "revocationReason" FROM id_cards WHERE token_id = ${tokenId} AND member_id = ${memberId}`);
}
