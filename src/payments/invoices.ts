import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

export interface InvoiceDetails {
  invoiceId: string;
  amountMinor: number;
  currency: string;
  dueAt: string;
}

export interface InvoiceRequest {
  tenantId: string;
  memberId: string;
  /** One invoice per key: a retried step gets the invoice its first attempt created. */
  idempotencyKey: string;
  amountMinor: number;
  currency: string;
  dueAt: string;
  /** A renewal invoice names the term it renews and the workflow that takes its payment. */
  renewal?: { termNumber: number; workflowId: string };
}

const Invoice = z.object({ invoiceId: z.string(), amountMinor: z.coerce.number(), currency: z.string(), dueAt: z.number() });

/** Issues the invoice of this key, or finds the one an earlier attempt issued: one round trip either way. */
export async function issueInvoiceOnce(tx: TenantTransaction, request: InvoiceRequest): Promise<InvoiceDetails> {
  const { tenantId, memberId, idempotencyKey: key, amountMinor, currency, dueAt, renewal } = request;
  // (An attempt racing this one may commit the same key after this statement's snapshot:
  // then the plain read below finds it.)
  const invoice = await tx.maybeOne(sql.type(Invoice)`
    WITH created AS (
      INSERT INTO invoices (id, tenant_id, member_id, idempotency_key, amount_minor, currency, due_at, purpose, term_number, workflow_id)
      VALUES (${randomUUID()}, ${tenantId}, ${memberId}, ${key}, ${amountMinor}, ${currency}, ${dueAt},
              ${renewal ? 'renewal' : 'admission'}, ${renewal?.termNumber ?? null}, ${renewal?.workflowId ?? null})
      ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
      RETURNING id, amount_minor, currency, due_at
    )
    SELECT id AS "invoiceId", amount_minor AS "amountMinor", currency, due_at AS "dueAt" FROM created
    UNION ALL
    SELECT id, amount_minor, currency, due_at FROM invoices WHERE idempotency_key = ${key} AND NOT EXISTS (SELECT 1 FROM created)`)
    ?? await tx.one(sql.type(Invoice)`
      SELECT id AS "invoiceId", amount_minor AS "amountMinor", currency, due_at AS "dueAt" FROM invoices WHERE idempotency_key = ${key}`);
  return { ...invoice, dueAt: new Date(invoice.dueAt).toISOString() };
}

/** Voids the member's open invoice, if any (the application expired or was withdrawn). */
export async function voidOpenInvoices(tx: TenantTransaction, memberId: string): Promise<void> {
  await tx.query(sql.unsafe`UPDATE invoices SET status = 'void', voided_at = now() WHERE member_id = ${memberId} AND status = 'open'`);
}

/** Voids one invoice if it is still open. */
export async function voidInvoice(tx: TenantTransaction, invoiceId: string): Promise<void> {
  await tx.query(sql.unsafe`UPDATE invoices SET status = 'void', voided_at = now() WHERE id = ${invoiceId} AND status = 'open'`);
}

const PayingWorkflow = z.object({ workflowId: z.string().nullable() });

/**
 * The workflow that takes payments for this invoice of the member: a renewal invoice names its
 * renewal workflow; null for an admission invoice (the member's lifecycle) or an unknown one.
 */
export async function payingWorkflowOf(tx: TenantTransaction, memberId: string, invoiceId: string): Promise<string | null> {
  return (await tx.maybeOneFirst(sql.type(PayingWorkflow)`
    SELECT workflow_id AS "workflowId" FROM invoices WHERE id = ${invoiceId} AND member_id = ${memberId}`)) ?? null;
}
