import { z } from 'zod';
import type { PaymentRow } from '../../src/payments/payments.ts';
import { responseDocument } from '../http/jsonapi.ts';

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

export function paymentDocument(payment: PaymentRow) {
  const { id, paidAt, recordedAt, ...rest } = payment;
  const attributes = { ...rest, paidAt: new Date(paidAt).toISOString(), recordedAt: new Date(recordedAt).toISOString() };
  return { data: { type: 'payments' as const, id, attributes } };
}
