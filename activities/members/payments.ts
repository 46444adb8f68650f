import { randomUUID } from 'node:crypto';
import type { PaymentMessage, RecordedPayment } from '../../src/members/lifecycle-contract.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { issueInvoiceOnce, voidOpenInvoices, type InvoiceDetails } from '../../src/payments/invoices.ts';
import { findPayment, insertPayment } from '../../src/payments/payments.ts';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { actorOf, inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

export type { InvoiceDetails } from '../../src/payments/invoices.ts';

/** Issues the lifecycle's invoice in `tx`: one per lifecycle, the invoice row keyed by the workflow id. */
export async function issueInvoiceIn(tx: TenantTransaction, deps: MemberActivityDeps, step: StepContext, amountMinor: number, currency: string, paymentWindowMs: number): Promise<InvoiceDetails> {
  const dueAt = new Date(deps.clock().getTime() + paymentWindowMs).toISOString();
  const details = await issueInvoiceOnce(tx, { ...step, idempotencyKey: `${step.workflowId}:invoice`, amountMinor, currency, dueAt });
  await executeMemberCommand(tx, stepCommand(step, 'invoice'), { type: 'IssueInvoice', ...details });
  return details;
}

/**
 * Records the payment once, in `tx`. A provider's reference pays for one invoice only: the same
 * reference again for this member is a retry and changes nothing; for anyone else it is
 * refused (DUPLICATE_PAYMENT_REFERENCE, non-retryable), as are a second payment and a wrong
 * amount (the admission rules decide those).
 */
export async function recordPaymentIn(tx: TenantTransaction, step: StepContext, payment: PaymentMessage): Promise<RecordedPayment> {
  const existing = await findPayment(tx, payment.provider, payment.providerRef);
  if (existing) {
    if (existing.memberId === step.memberId && existing.invoiceId === payment.invoiceId) {
      return { paymentId: existing.id, recordedAt: new Date(existing.recordedAt).toISOString() };
    }
    throw new MemberRuleError('DUPLICATE_PAYMENT_REFERENCE', `${payment.provider} reference ${payment.providerRef} already paid another invoice`, { field: 'reference' });
  }
  const paymentId = randomUUID();
  const { invoiceId, amount, currency, provider, providerRef, paidAt } = payment;
  let recordedAt: string | undefined;
  const { applied } = await executeMemberCommand(
    tx,
    stepCommand(step, `payment:${provider}:${providerRef}`, `payment:${provider}`),
    { type: 'RecordPayment', paymentId, invoiceId, amountMinor: amount, currency, provider, providerRef, paidAt },
    async () => {
      ({ recordedAt } = await insertPayment(tx, { ...payment, paymentId, tenantId: step.tenantId, memberId: step.memberId, recordedBy: actorOf(step) }));
    },
  );
  if (!applied || !recordedAt) throw new Error(`payment ${provider}:${providerRef} was recorded by a concurrent attempt; the retry finds it`);
  return { paymentId, recordedAt };
}

/** The admission fee: the invoice, its payment, and its expiry; one transaction each. */
export function createPaymentActivities(deps: MemberActivityDeps) {
  return {
    /** One invoice per lifecycle: the invoice row is keyed by the workflow id. */
    async issueInvoice(step: StepContext, amountMinor: number, currency: string, paymentWindowMs: number): Promise<InvoiceDetails> {
      return inTenant(deps, step, (tx) => issueInvoiceIn(tx, deps, step, amountMinor, currency, paymentWindowMs));
    },

    /** Records the payment once (recordPaymentIn). */
    async recordPayment(step: StepContext, payment: PaymentMessage): Promise<RecordedPayment> {
      return inTenant(deps, step, (tx) => recordPaymentIn(tx, step, payment));
    },

    async expireApplication(step: StepContext): Promise<void> {
      await inTenant(deps, step, (tx) =>
        executeMemberCommand(tx, stepCommand(step, 'expire'), { type: 'Expire' }, () => voidOpenInvoices(tx, step.memberId)));
    },
  };
}
