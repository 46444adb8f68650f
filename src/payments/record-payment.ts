import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import { withTenant, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';
import { memberWorkflowId, paymentReceivedUpdate, type PaymentResult } from '../members/lifecycle-contract.ts';
import { sendLifecycleUpdate } from '../members/lifecycle-client.ts';
import { MemberRuleError } from '../members/member-aggregate.ts';
import { memberExists } from '../members/member-queries.ts';
import { payingWorkflowOf } from './invoices.ts';
import { findPayment, type PaymentRow } from './payments.ts';

export interface PaymentClaim {
  memberId: string;
  invoiceId: string;
  amount: number;
  currency: string;
  provider: string;
  reference: string;
  paidAt: string;
}

/**
 * Hands a payment to the member's lifecycle, which records it once: a repeat of the same
 * (provider, reference) is accepted by the workflow and finds the row the first one wrote.
 * @returns the recorded payment, and whether it was already in the table before this call.
 * A renewal invoice's payment goes to its renewal workflow (same Update, same idempotency).
 * @throws DomainError NOT_FOUND (no such member in the tenant); MemberRuleError as the admission or
 *   renewal rules refuse it (409 not awaiting payment, a renewal closed, or a reference another
 *   member's payment holds; 422 an invoice, currency or amount that is not the open invoice's,
 *   naming the field).
 */
export async function recordPayment(
  deps: { pool: DatabasePool; temporal: Client },
  context: TenantContext,
  claim: PaymentClaim,
): Promise<{ payment: PaymentRow; existed: boolean }> {
  const inTenant = <T>(work: (tx: TenantTransaction) => Promise<T>) => withTenant(deps.pool, context, work);
  const recorded = () => inTenant((tx) => findPayment(tx, claim.provider, claim.reference));
  const { before, renewalWorkflowId } = await inTenant(async (tx) => {
    if (!(await memberExists(tx, claim.memberId))) throw new DomainError('NOT_FOUND', 'member not found');
    return { before: await findPayment(tx, claim.provider, claim.reference), renewalWorkflowId: await payingWorkflowOf(tx, claim.memberId, claim.invoiceId) };
  });
  if (before) return { payment: ofMember(before, claim), existed: true };
  // A renewal invoice is paid to its renewal workflow; any other invoice to the admission lifecycle, whose rules refuse what is not its own.
  const workflowId = renewalWorkflowId ?? memberWorkflowId(context.tenantId, claim.memberId);
  const closed = renewalWorkflowId
    ? () => new MemberRuleError('RENEWAL_NOT_OPEN', 'the renewal of this invoice is closed and not awaiting payment')
    : () => new MemberRuleError('MEMBER_NOT_AWAITING_PAYMENT', 'the application is closed and not awaiting payment');

  const { invoiceId, amount, currency, provider, reference, paidAt } = claim;
  let result: PaymentResult;
  try {
    const message = { invoiceId, amount, currency, provider, providerRef: reference, paidAt };
    result = await sendLifecycleUpdate({ client: deps.temporal, pool: deps.pool, tenantId: context.tenantId }, workflowId, paymentReceivedUpdate, message);
  } catch (err) {
    const meanwhile = await recorded();
    if (meanwhile) return { payment: ofMember(meanwhile, claim), existed: true };
    if (err instanceof WorkflowNotFoundError) throw closed();
    throw err;
  }
  // The update returns once the lifecycle has left AwaitingPayment (a renewal: once it took a payment); only a recorded payment counts as taken.
  if (!result.payment) {
    throw renewalWorkflowId
      ? new MemberRuleError('RENEWAL_NOT_OPEN', `the payment was not recorded: the renewal is ${result.stage}`)
      : new MemberRuleError('MEMBER_NOT_AWAITING_PAYMENT', `the payment was not recorded: the application is ${result.stage}`);
  }
  const { paymentId, recordedAt } = result.payment;
  // A lifecycle that recorded its payment before it reported recordedAt answers without it.
  const payment = recordedAt
    ? { id: paymentId, memberId: claim.memberId, invoiceId, amount, currency, provider, reference, paidAt: Date.parse(paidAt), recordedAt: Date.parse(recordedAt) }
    : await recorded();
  if (!payment) throw new Error(`payment ${paymentId} reported recorded but not found`);
  return { payment: ofMember(payment, claim), existed: false };
}

function ofMember(payment: PaymentRow, claim: PaymentClaim): PaymentRow {
  if (payment.memberId === claim.memberId) return payment;
  throw new MemberRuleError('DUPLICATE_PAYMENT_REFERENCE', `reference ${claim.reference} is already recorded for another member's payment`, { field: 'reference' });
}
