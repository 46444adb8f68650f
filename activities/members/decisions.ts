import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { PaymentMessage } from '../../workflows/members/messages.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { MemberRuleError, type MemberCommand } from '../../src/members/member-aggregate.ts';
import { actorOf, inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

export interface InvoiceDetails {
  invoiceId: string;
  amountMinor: number;
  currency: string;
  dueAt: string;
}

const Invoice = z.object({ invoiceId: z.string(), amountMinor: z.coerce.number(), currency: z.string(), dueAt: z.number() });

/** A payment as the workflow received it. */
export type PaymentDetails = PaymentMessage;

/** Approval, rejection, escalation, withdrawal, invoicing, payment and expiry: one transaction each. */
export function createDecisionActivities(deps: MemberActivityDeps) {
  const run = (step: StepContext, key: string, command: MemberCommand, actor?: string) =>
    inTenant(deps, step, (tx) =>
      executeMemberCommand(tx, stepCommand(step, key, actor), command),
    ).then(() => undefined);

  return {
    recordReminder: (step: StepContext, committeeId: string | null) => run(step, 'remind', { type: 'RemindCommittee', committeeId }),
    recordEscalation: (step: StepContext, fromCommitteeId: string | null, toCommitteeId: string | null) =>
      run(step, 'escalate', { type: 'Escalate', fromCommitteeId, toCommitteeId }),
    recordApproval: (step: StepContext, by: string, note: string | null) => run(step, 'decision', { type: 'Approve', by, note }, by),
    recordRejection: (step: StepContext, by: string, reason: string) => run(step, 'decision', { type: 'Reject', by, reason }, by),
    recordWithdrawal: (step: StepContext, reason: string) =>
      inTenant(deps, step, async (tx) => {
        await tx.query(sql.unsafe`UPDATE invoices SET status = 'void', voided_at = now() WHERE member_id = ${step.memberId} AND status = 'open'`);
        await executeMemberCommand(tx, stepCommand(step, 'withdraw'), { type: 'Withdraw', reason });
      }),

    /** One invoice per lifecycle: the invoice row is keyed by the workflow id. */
    async issueInvoice(step: StepContext, amountMinor: number, currency: string, paymentWindowMs: number): Promise<InvoiceDetails> {
      return inTenant(deps, step, async (tx) => {
        const key = `${step.workflowId}:invoice`;
        const dueAt = new Date(deps.clock().getTime() + paymentWindowMs).toISOString();
        // The invoice this step created, now or on an earlier attempt: one round trip either way.
        // (An attempt racing this one may commit the same key after this statement's snapshot:
        // then the plain read below finds it.)
        const invoice = await tx.maybeOne(sql.type(Invoice)`
          WITH created AS (
            INSERT INTO invoices (id, tenant_id, member_id, idempotency_key, amount_minor, currency, due_at)
            VALUES (${randomUUID()}, ${step.tenantId}, ${step.memberId}, ${key}, ${amountMinor}, ${currency}, ${dueAt})
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING id, amount_minor, currency, due_at
          )
          SELECT id AS "invoiceId", amount_minor AS "amountMinor", currency, due_at AS "dueAt" FROM created
          UNION ALL
          SELECT id, amount_minor, currency, due_at FROM invoices WHERE idempotency_key = ${key} AND NOT EXISTS (SELECT 1 FROM created)`)
          ?? await tx.one(sql.type(Invoice)`
            SELECT id AS "invoiceId", amount_minor AS "amountMinor", currency, due_at AS "dueAt" FROM invoices WHERE idempotency_key = ${key}`);
        const details = { ...invoice, dueAt: new Date(invoice.dueAt).toISOString() };
        await executeMemberCommand(tx, stepCommand(step, 'invoice'), { type: 'IssueInvoice', ...details });
        return details;
      });
    },

    /**
     * Records the payment once. A provider's reference pays for one invoice only: the same
     * reference again for this member is a retry and changes nothing; for anyone else it is
     * refused (DUPLICATE_PAYMENT_REFERENCE, non-retryable), as are a second payment and a wrong
     * amount (the member's events decide those).
     */
    async recordPayment(step: StepContext, payment: PaymentDetails): Promise<{ paymentId: string }> {
      return inTenant(deps, step, async (tx) => {
        const existing = await tx.maybeOne(sql.type(z.object({ id: z.string(), memberId: z.string(), invoiceId: z.string() }))`
          SELECT id, member_id AS "memberId", invoice_id AS "invoiceId" FROM payments
          WHERE provider = ${payment.provider} AND provider_ref = ${payment.providerRef}`);
        if (existing) {
          if (existing.memberId === step.memberId && existing.invoiceId === payment.invoiceId) return { paymentId: existing.id };
          throw new MemberRuleError('DUPLICATE_PAYMENT_REFERENCE', `${payment.provider} reference ${payment.providerRef} already paid another invoice`);
        }
        const paymentId = randomUUID();
        await executeMemberCommand(
          tx,
          stepCommand(step, `payment:${payment.provider}:${payment.providerRef}`, `payment:${payment.provider}`),
          { type: 'RecordPayment', paymentId, invoiceId: payment.invoiceId, amountMinor: payment.amount, currency: payment.currency, provider: payment.provider, providerRef: payment.providerRef, paidAt: payment.paidAt },
          async () => {
            await tx.query(sql.unsafe`
              WITH paid AS (
                UPDATE invoices SET status = 'paid', paid_at = ${payment.paidAt} WHERE id = ${payment.invoiceId} AND status = 'open'
              )
              INSERT INTO payments (id, tenant_id, invoice_id, member_id, amount_minor, currency, provider, provider_ref, paid_at, recorded_by)
              VALUES (${paymentId}, ${step.tenantId}, ${payment.invoiceId}, ${step.memberId}, ${payment.amount}, ${payment.currency},
                      ${payment.provider}, ${payment.providerRef}, ${payment.paidAt}, ${actorOf(step)})`);
          },
        );
        return { paymentId };
      });
    },

    async expireApplication(step: StepContext): Promise<void> {
      await inTenant(deps, step, async (tx) => {
        await executeMemberCommand(tx, stepCommand(step, 'expire'), { type: 'Expire' }, async () => {
          await tx.query(sql.unsafe`UPDATE invoices SET status = 'void', voided_at = now() WHERE member_id = ${step.memberId} AND status = 'open'`);
        });
      });
    },
  };
}
