import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/** A payments row as the API reads it. */
export const PaymentRowSchema = z.object({
  id: z.string(),
  memberId: z.string(),
  invoiceId: z.string(),
  amount: z.coerce.number(),
  currency: z.string(),
  provider: z.string(),
  reference: z.string(),
  paidAt: z.number(),
  recordedAt: z.number(),
});
export type PaymentRow = z.infer<typeof PaymentRowSchema>;

/** The payment a provider's reference paid, if any: a reference pays for one invoice only. */
export async function findPayment(tx: TenantTransaction, provider: string, reference: string): Promise<PaymentRow | null> {
  return tx.maybeOne(sql.type(PaymentRowSchema)`
    SELECT id, member_id AS "memberId", invoice_id AS "invoiceId", amount_minor AS amount, currency,
           provider, provider_ref AS reference, paid_at AS "paidAt", recorded_at AS "recordedAt"
    FROM payments WHERE provider = ${provider} AND provider_ref = ${reference}`);
}

/** A payment as a provider or a treasurer reports it, for one invoice. */
export interface ReceivedPayment {
  invoiceId: string;
  /** Minor units (paisa). */
  amount: number;
  currency: string;
  provider: string;
  providerRef: string;
  paidAt: string;
}

export interface NewPayment extends ReceivedPayment {
  paymentId: string;
  tenantId: string;
  memberId: string;
  recordedBy: string;
}

/** Records the payment and marks its invoice paid, in one statement. @returns when it was recorded. */
export async function insertPayment(tx: TenantTransaction, payment: NewPayment): Promise<{ recordedAt: string }> {
  const recordedAt = await tx.oneFirst(sql.type(z.object({ recordedAt: z.number() }))`
    WITH paid AS (
      UPDATE invoices SET status = 'paid', paid_at = ${payment.paidAt} WHERE id = ${payment.invoiceId} AND status = 'open'
    )
    INSERT INTO payments (id, tenant_id, invoice_id, member_id, amount_minor, currency, provider, provider_ref, paid_at, recorded_by)
    VALUES (${payment.paymentId}, ${payment.tenantId}, ${payment.invoiceId}, ${payment.memberId}, ${payment.amount}, ${payment.currency},
            ${payment.provider}, ${payment.providerRef}, ${payment.paidAt}, ${payment.recordedBy})
    RETURNING recorded_at AS "recordedAt"`);
  return { recordedAt: new Date(recordedAt).toISOString() };
}

/** Whether the invoice already has a payment recorded: a second one for it is money paid twice. */
export async function invoiceHasPayment(tx: TenantTransaction, invoiceId: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM payments WHERE invoice_id = ${invoiceId}`);
}
