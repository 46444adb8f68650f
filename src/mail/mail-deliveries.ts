import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/**
 * The record of every email the product delivered, keyed by its idempotency key: a step that
 * is retried finds its email sent and does not send it again.
 */
export async function isDelivered(tx: TenantTransaction, idempotencyKey: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM mail_deliveries WHERE idempotency_key = ${idempotencyKey}`);
}

export interface Delivery {
  tenantId: string;
  memberId: string;
  idempotencyKey: string;
  kind: string;
  messageId: string;
}

export async function recordDelivery(tx: TenantTransaction, delivery: Delivery): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO mail_deliveries (tenant_id, member_id, idempotency_key, kind, message_id)
    VALUES (${delivery.tenantId}, ${delivery.memberId}, ${delivery.idempotencyKey}, ${delivery.kind}, ${delivery.messageId})
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`);
}

const MemberRecipientSchema = z.object({
  name: z.string(),
  emailEnc: z.instanceof(Buffer).nullable(),
  partyName: z.string(),
  tenantSlug: z.string(),
  sent: z.boolean(),
});
export type MemberRecipient = z.infer<typeof MemberRecipientSchema>;

/** One read: the member to write to (email still sealed), their party, and whether this email already went out. */
export async function readMemberRecipient(tx: TenantTransaction, memberId: string, idempotencyKey: string): Promise<MemberRecipient | null> {
  return tx.maybeOne(sql.type(MemberRecipientSchema)`
    SELECT m.full_name_en AS name, m.email_enc AS "emailEnc", t.name AS "partyName", t.slug AS "tenantSlug",
           EXISTS (SELECT 1 FROM mail_deliveries WHERE idempotency_key = ${idempotencyKey}) AS sent
    FROM members m JOIN tenants t ON t.id = m.tenant_id WHERE m.id = ${memberId}`);
}
