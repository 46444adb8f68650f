import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { PaymentRowSchema, type PaymentRow } from './payments.ts';

export const INVOICE_STATUSES = ['open', 'paid', 'void'] as const;

const InvoiceRowSchema = z.object({
  id: z.string(),
  memberId: z.string(),
  purpose: z.enum(['admission', 'renewal']),
  termNumber: z.number().nullable(),
  amountMinor: z.coerce.number(),
  currency: z.string(),
  status: z.enum(INVOICE_STATUSES),
  issuedAt: z.number(),
  dueAt: z.number(),
  paidAt: z.number().nullable(),
  voidedAt: z.number().nullable(),
});
export type InvoiceRow = z.infer<typeof InvoiceRowSchema>;

const invoiceColumns = sql.fragment`
  id, member_id AS "memberId", purpose, term_number AS "termNumber", amount_minor AS "amountMinor", currency::text AS currency,
  status::text AS status, issued_at AS "issuedAt", due_at AS "dueAt", paid_at AS "paidAt", voided_at AS "voidedAt"`;

/** The member's invoices, newest first (admission and renewals alike). */
export async function invoicesOfMember(tx: TenantTransaction, memberId: string): Promise<readonly InvoiceRow[]> {
  return tx.any(sql.type(InvoiceRowSchema)`SELECT ${invoiceColumns} FROM invoices WHERE member_id = ${memberId} ORDER BY issued_at DESC, id DESC`);
}

/** One invoice of the transaction's tenant, or null. */
export async function findInvoice(tx: TenantTransaction, invoiceId: string): Promise<InvoiceRow | null> {
  return tx.maybeOne(sql.type(InvoiceRowSchema)`SELECT ${invoiceColumns} FROM invoices WHERE id = ${invoiceId}`);
}

const paymentColumns = sql.fragment`
  id, member_id AS "memberId", invoice_id AS "invoiceId", amount_minor AS amount, currency::text AS currency,
  provider, provider_ref AS reference, paid_at AS "paidAt", recorded_at AS "recordedAt"`;

/** The member's payments, newest first: found through the member's invoices (both tables are indexed so). */
export async function paymentsOfMember(tx: TenantTransaction, memberId: string): Promise<readonly PaymentRow[]> {
  return tx.any(sql.type(PaymentRowSchema)`
    SELECT ${paymentColumns} FROM payments
    WHERE invoice_id IN (SELECT i.id FROM invoices i WHERE i.member_id = ${memberId}) AND member_id = ${memberId}
    ORDER BY paid_at DESC, id DESC`);
}

/** The payments of these invoices, oldest first. */
export async function paymentsOfInvoices(tx: TenantTransaction, invoiceIds: readonly string[]): Promise<readonly PaymentRow[]> {
  if (invoiceIds.length === 0) return [];
  return tx.any(sql.type(PaymentRowSchema)`
    SELECT ${paymentColumns} FROM payments WHERE invoice_id = ANY(${sql.array(invoiceIds, 'uuid')}) ORDER BY paid_at, id`);
}
