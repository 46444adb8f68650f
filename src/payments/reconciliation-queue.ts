import { sql } from 'slonik';
import { z } from 'zod';
import { exactTime } from '../db/exact-time.ts';
import { withTenant, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';
import { appendToStream } from '../events/event-store.ts';
import type { DatabasePool } from 'slonik';
import { findInvoice } from './invoice-queries.ts';
import { findPayment, type PaymentRow } from './payments.ts';
import type { PaymentClaim } from './record-payment.ts';
import { RECONCILIATION_STATUSES, reconciliationColumns, ReconciliationItemSchema, type ReconciliationItem } from './reconciliation.ts';

/** The event store's aggregate of a reconciliation item's decisions; its id is the item's. */
export const RECONCILIATION_AGGREGATE = 'PaymentReconciliation';
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

const isUuid = (id: string) => z.uuid().safeParse(id).success;

/** One item of the transaction's party, or null (an id that is not a UUID names none). */
export async function findReconciliationItem(tx: TenantTransaction, id: string): Promise<ReconciliationItem | null> {
  if (!isUuid(id)) return null;
  return tx.maybeOne(sql.type(ReconciliationItemSchema)`SELECT ${reconciliationColumns} FROM payment_reconciliation_items WHERE id = ${id}`);
}

const ListedItemSchema = ReconciliationItemSchema.extend({ position: z.string().describe('detected_at to the microsecond, for the keyset cursor') });
export type ListedReconciliationItem = z.infer<typeof ListedItemSchema>;

export interface ReconciliationSearch {
  status?: ReconciliationStatus | undefined;
  /** Continue after this item (its exact detection time and id). */
  after?: { detectedAt: string; id: string } | undefined;
  limit: number;
}

/** The party's items, oldest detected first (ties by id), as keyset pages. */
export async function searchReconciliationItems(tx: TenantTransaction, search: ReconciliationSearch): Promise<readonly ListedReconciliationItem[]> {
  const where = [sql.fragment`TRUE`];
  if (search.status) where.push(sql.fragment`status = ${search.status}`);
  if (search.after) {
    const at = sql.fragment`${search.after.detectedAt}::timestamptz`;
    where.push(sql.fragment`detected_at >= ${at} AND (detected_at > ${at} OR id > ${search.after.id}::uuid)`);
  }
  return tx.any(sql.type(ListedItemSchema)`
    SELECT ${reconciliationColumns}, ${exactTime(sql.fragment`detected_at`)} AS position FROM payment_reconciliation_items
    WHERE ${sql.join(where, sql.fragment` AND `)}
    ORDER BY detected_at, id LIMIT ${search.limit}`);
}

export type ReconciliationDecision =
  | { status: 'attached'; paymentId: string; invoiceId: string }
  | { status: 'refund' };

/**
 * Records a decision on an open item, in the caller's transaction: the item's row (its audit
 * row comes from the table's trigger) and one event on the item's stream.
 * @throws DomainError NOT_FOUND; RECONCILIATION_DECIDED when it is no longer open.
 */
export async function decideReconciliationItem(tx: TenantTransaction, context: TenantContext, itemId: string, decision: ReconciliationDecision, note: string): Promise<ReconciliationItem> {
  const paymentId = decision.status === 'attached' ? decision.paymentId : null;
  const updated = isUuid(itemId) ? await tx.maybeOne(sql.type(ReconciliationItemSchema)`
    UPDATE payment_reconciliation_items
    SET status = ${decision.status}, resolved_at = now(), resolved_by = ${context.actor}, resolution_note = ${note}, payment_id = ${paymentId}
    WHERE id = ${itemId} AND status = 'open'
    RETURNING ${reconciliationColumns}`) : null;
  if (!updated) {
    const item = await findReconciliationItem(tx, itemId);
    if (!item) throw new DomainError('NOT_FOUND', 'reconciliation item not found');
    throw new DomainError('RECONCILIATION_DECIDED', `the item is already decided: ${item.status === 'refund' ? 'marked for refund' : 'attached to an invoice'}`);
  }
  const event = decision.status === 'attached'
    ? { type: 'ReconciliationAttached', payload: { paymentId: decision.paymentId, invoiceId: decision.invoiceId, by: context.actor } }
    : { type: 'ReconciliationRefundMarked', payload: { by: context.actor } };
  await appendToStream(tx, {
    tenantId: context.tenantId, aggregateType: RECONCILIATION_AGGREGATE, aggregateId: itemId, expectedVersion: 0,
    events: [event], metadata: { actor: context.actor },
  });
  return updated;
}

/** Records a payment through the member's lifecycle or renewal, idempotent on (provider, reference). */
export type RecordPayment = (context: TenantContext, claim: PaymentClaim) => Promise<{ payment: PaymentRow }>;

/**
 * Attaches an open item's money to an open invoice of a member of the party: the payment is
 * recorded exactly as a treasurer's manual payment (provider = the item's gateway, reference =
 * the gateway's reference), then the item is marked attached with its event. A repeat after a
 * crash between the two finds the payment already recorded for this invoice and finishes.
 * @throws DomainError NOT_FOUND (the item); RECONCILIATION_DECIDED; INVOICE_MISMATCH or
 *   PAYMENT_AMOUNT_MISMATCH naming `invoiceId` (not an open invoice of the party, or not the
 *   item's amount and currency); RECONCILIATION_ALREADY_RECORDED (the gateway's transaction is
 *   another invoice's payment); what recording the payment throws (the lifecycle's rules).
 */
export async function attachReconciliationItem(
  pool: DatabasePool, record: RecordPayment, context: TenantContext, itemId: string, invoiceId: string, note: string,
): Promise<ReconciliationItem> {
  const claim = await withTenant(pool, context, async (tx) => {
    const item = await findReconciliationItem(tx, itemId);
    if (!item) throw new DomainError('NOT_FOUND', 'reconciliation item not found');
    if (item.status !== 'open') throw new DomainError('RECONCILIATION_DECIDED', `the item is already decided: ${item.status === 'refund' ? 'marked for refund' : 'attached to an invoice'}`);
    const invoice = isUuid(invoiceId) ? await findInvoice(tx, invoiceId) : null;
    if (!invoice || invoice.status !== 'open') {
      throw new DomainError('INVOICE_MISMATCH', 'invoiceId: not an open invoice of a member of the party', { field: 'invoiceId' });
    }
    if (invoice.amountMinor !== item.amountMinor || invoice.currency !== item.currency) {
      throw new DomainError('PAYMENT_AMOUNT_MISMATCH',
        `invoiceId: the invoice is for ${invoice.amountMinor} ${invoice.currency} (minor units), the item holds ${item.amountMinor} ${item.currency}`, { field: 'invoiceId' });
    }
    const recorded = await findPayment(tx, item.gateway, item.reference);
    if (recorded && recorded.invoiceId !== invoice.id) {
      throw new DomainError('RECONCILIATION_ALREADY_RECORDED', `the ${item.gateway} transaction ${item.reference} is already recorded as the payment of another invoice; mark it for refund`);
    }
    return {
      memberId: invoice.memberId, invoiceId: invoice.id, amount: item.amountMinor, currency: item.currency,
      provider: item.gateway, reference: item.reference, paidAt: new Date(item.detectedAt).toISOString(),
    };
  });
  const { payment } = await record(context, claim);
  return withTenant(pool, context, (tx) => decideReconciliationItem(tx, context, itemId, { status: 'attached', paymentId: payment.id, invoiceId: claim.invoiceId }, note));
}

/** Marks an open item for refund (done by the treasurer in the gateway's merchant portal). */
export async function markReconciliationRefund(pool: DatabasePool, context: TenantContext, itemId: string, note: string): Promise<ReconciliationItem> {
  return withTenant(pool, context, (tx) => decideReconciliationItem(tx, context, itemId, { status: 'refund' }, note));
}
