import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { responseDocument } from '../http/jsonapi.ts';

const PaymentRow = z.object({
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
export type PaymentRow = z.infer<typeof PaymentRow>;

export const PaymentAttributes = z.object({
  memberId: z.string(),
  invoiceId: z.string(),
  amount: z.number().int().describe('minor units (paisa)'),
  currency: z.string(),
  provider: z.string().describe("'manual' for a payment a treasurer entered"),
  reference: z.string().describe("the provider's reference (a receipt number for manual payments)"),
  paidAt: z.string(),
  recordedAt: z.string(),
});
export const PaymentDocument = responseDocument('payments', PaymentAttributes);

export async function findPayment(tx: TenantTransaction, provider: string, reference: string): Promise<PaymentRow | null> {
  return tx.maybeOne(sql.type(PaymentRow)`
    SELECT id, member_id AS "memberId", invoice_id AS "invoiceId", amount_minor AS amount, currency,
           provider, provider_ref AS reference, paid_at AS "paidAt", recorded_at AS "recordedAt"
    FROM payments WHERE provider = ${provider} AND provider_ref = ${reference}`);
}

export function paymentDocument(payment: PaymentRow) {
  const { id, paidAt, recordedAt, ...rest } = payment;
  const attributes = { ...rest, paidAt: new Date(paidAt).toISOString(), recordedAt: new Date(recordedAt).toISOString() };
  return { data: { type: 'payments' as const, id, attributes } };
}
