import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { GatewayName } from './gateways/gateway.ts';
import { GATEWAYS } from './gateway-accounts.ts';

export const RECONCILIATION_REASONS = ['amount_mismatch', 'invoice_not_open', 'paid_twice', 'unknown_reference', 'gateway_differs'] as const;
export type ReconciliationReason = (typeof RECONCILIATION_REASONS)[number];
export const RECONCILIATION_STATUSES = ['open', 'attached', 'refund'] as const;

export const ReconciliationItemSchema = z.object({
  id: z.string(),
  gateway: z.enum(GATEWAYS),
  reference: z.string(),
  attemptId: z.string().nullable(),
  memberId: z.string().nullable(),
  amountMinor: z.coerce.number(),
  currency: z.string(),
  reason: z.enum(RECONCILIATION_REASONS),
  detail: z.string(),
  status: z.enum(RECONCILIATION_STATUSES),
  detectedAt: z.number(),
  resolvedAt: z.number().nullable(),
  resolvedBy: z.string().nullable(),
  resolutionNote: z.string().nullable(),
  paymentId: z.string().nullable(),
});
export type ReconciliationItem = z.infer<typeof ReconciliationItemSchema>;

export const reconciliationColumns = sql.fragment`
  id, gateway, reference, attempt_id AS "attemptId", member_id AS "memberId", amount_minor AS "amountMinor", currency, reason, detail,
  status, detected_at AS "detectedAt", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy", resolution_note AS "resolutionNote",
  payment_id AS "paymentId"`;

export interface NewReconciliationItem {
  tenantId: string;
  gateway: GatewayName;
  reference: string;
  attemptId: string | null;
  memberId: string | null;
  amountMinor: number;
  currency: string;
  reason: ReconciliationReason;
  detail: string;
}

/**
 * Puts a gateway payment that matches no open invoice into the queue, once: the same gateway
 * transaction for the same reason adds nothing (a retried step, a repeated daily run).
 * @returns the item, new or already there.
 */
export async function addReconciliationItem(tx: TenantTransaction, item: NewReconciliationItem): Promise<ReconciliationItem> {
  await tx.query(sql.unsafe`
    INSERT INTO payment_reconciliation_items (id, tenant_id, gateway, reference, attempt_id, member_id, amount_minor, currency, reason, detail)
    VALUES (${randomUUID()}, ${item.tenantId}, ${item.gateway}, ${item.reference}, ${item.attemptId}, ${item.memberId}, ${item.amountMinor},
            ${item.currency}, ${item.reason}, ${item.detail.slice(0, 500)})
    ON CONFLICT (tenant_id, gateway, reference, reason) DO NOTHING`);
  return tx.one(sql.type(ReconciliationItemSchema)`
    SELECT ${reconciliationColumns} FROM payment_reconciliation_items WHERE gateway = ${item.gateway} AND reference = ${item.reference} AND reason = ${item.reason}`);
}
