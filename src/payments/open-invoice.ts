import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

const OpenInvoiceSchema = z.object({
  id: z.string(),
  purpose: z.string(),
  amountMinor: z.coerce.number(),
  currency: z.string(),
  issuedAt: z.number(),
  dueAt: z.number(),
  termNumber: z.number().nullable(),
});
export type OpenInvoice = z.infer<typeof OpenInvoiceSchema>;

/** The member's newest open invoice (admission or renewal), if any: what the applicant has to pay. */
export async function openInvoiceOf(tx: TenantTransaction, memberId: string): Promise<OpenInvoice | null> {
  return tx.maybeOne(sql.type(OpenInvoiceSchema)`
    SELECT id, purpose, amount_minor AS "amountMinor", currency, issued_at AS "issuedAt", due_at AS "dueAt", term_number AS "termNumber"
    FROM invoices WHERE member_id = ${memberId} AND status = 'open'
    ORDER BY issued_at DESC, id LIMIT 1`);
}

/** The payment providers the party takes payments through online (those with a current webhook secret). */
export async function onlinePaymentProviders(tx: TenantTransaction): Promise<string[]> {
  const rows = await tx.any(sql.type(z.object({ provider: z.string() }))`
    SELECT DISTINCT provider FROM payment_webhook_secrets WHERE retires_at IS NULL OR retires_at > clock_timestamp() ORDER BY provider`);
  return rows.map((row) => row.provider);
}
