import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantContext, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { memberWorkflowId, paymentReceivedUpdate } from '../../workflows/members/messages.ts';
import { ApiError } from '../http/errors.ts';
import { findPayment, type PaymentRow } from './payment-resource.ts';

export interface PaymentClaim {
  memberId: string;
  invoiceId: string;
  amount: number;
  currency: string;
  provider: string;
  reference: string;
  paidAt: string;
}

/** Where the claim's fields sit in the request body, for error pointers: '/data/attributes' or ''. */
export type PointerBase = '/data/attributes' | '';

const OpenInvoice = z.object({ id: z.string(), amount: z.coerce.number(), currency: z.string() });

/**
 * Hands a payment to the member's lifecycle, which records it once: a repeat of the same
 * (provider, reference) is accepted by the workflow and finds the row the first one wrote.
 * @returns the recorded payment, and whether it was already in the table before this call.
 * @throws ApiError 404 (no such member in the tenant), 409 (not awaiting payment, or the
 *   reference belongs to another member's payment), 422 (invoice, currency or amount mismatch).
 */
export async function recordPayment(
  deps: { pool: DatabasePool; temporal: Client },
  context: TenantContext,
  claim: PaymentClaim,
  pointerBase: PointerBase,
): Promise<{ payment: PaymentRow; existed: boolean }> {
  const inTenant = <T>(work: (tx: TenantTransaction) => Promise<T>) => withTenant(deps.pool, context, work);
  const recorded = () => inTenant((tx) => findPayment(tx, claim.provider, claim.reference));
  const before = await inTenant(async (tx) => {
    if (!(await tx.exists(sql.unsafe`SELECT 1 FROM members WHERE id = ${claim.memberId}`))) throw ApiError.notFound('member');
    return findPayment(tx, claim.provider, claim.reference);
  });
  if (before) return { payment: ofMember(before, claim, pointerBase), existed: true };

  const { invoiceId, amount, currency, provider, reference, paidAt } = claim;
  let stage: string;
  try {
    const message = { invoiceId, amount, currency, provider, providerRef: reference, paidAt };
    ({ stage } = await sendLifecycleUpdate(deps.temporal, memberWorkflowId(context.tenantId, claim.memberId), paymentReceivedUpdate, message));
  } catch (err) {
    const meanwhile = await recorded();
    if (meanwhile) return { payment: ofMember(meanwhile, claim, pointerBase), existed: true };
    throw await refusal(err, claim, pointerBase, inTenant);
  }
  const payment = await recorded();
  // The update returns once the lifecycle has left AwaitingPayment; only a recorded payment counts as taken.
  if (!payment) throw new ApiError(409, 'MEMBER_NOT_AWAITING_PAYMENT', `the payment was not recorded: the application is ${stage}`);
  return { payment: ofMember(payment, claim, pointerBase), existed: false };
}

function ofMember(payment: PaymentRow, claim: PaymentClaim, pointerBase: PointerBase): PaymentRow {
  if (payment.memberId === claim.memberId) return payment;
  throw new ApiError(409, 'DUPLICATE_PAYMENT_REFERENCE', `reference ${claim.reference} is already recorded for another member's payment`, { pointer: `${pointerBase}/reference` });
}

async function refusal(
  err: unknown, claim: PaymentClaim, pointerBase: PointerBase,
  inTenant: <T>(work: (tx: TenantTransaction) => Promise<T>) => Promise<T>,
): Promise<unknown> {
  if (err instanceof WorkflowNotFoundError) return new ApiError(409, 'MEMBER_NOT_AWAITING_PAYMENT', 'the application is closed and not awaiting payment');
  if (!(err instanceof MemberRuleError)) return err;
  if (err.code === 'DUPLICATE_PAYMENT_REFERENCE') return new ApiError(409, err.code, err.message, { pointer: `${pointerBase}/reference` });
  if (err.code !== 'PAYMENT_AMOUNT_MISMATCH' && err.code !== 'INVOICE_MISMATCH') return new ApiError(409, err.code, err.message);
  // The workflow reports every mismatch under one code; the open invoice tells which field is wrong.
  const invoice = await inTenant((tx) => tx.maybeOne(sql.type(OpenInvoice)`
    SELECT id, amount_minor AS amount, currency FROM invoices WHERE member_id = ${claim.memberId} AND status = 'open'`));
  if (!invoice || invoice.id !== claim.invoiceId) {
    return new ApiError(422, 'INVOICE_MISMATCH', 'invoiceId is not the member\'s open invoice', { pointer: `${pointerBase}/invoiceId` });
  }
  if (invoice.currency !== claim.currency) {
    return new ApiError(422, 'PAYMENT_AMOUNT_MISMATCH', `currency must be the invoice's ${invoice.currency}`, { pointer: `${pointerBase}/currency` });
  }
  return new ApiError(422, 'PAYMENT_AMOUNT_MISMATCH', `amount must be the invoice's ${invoice.amount} (minor units)`, { pointer: `${pointerBase}/amount` });
}
