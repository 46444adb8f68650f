import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import { withTenant, type TenantContext } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';
import type { Keyring } from '../tenants/keyring.ts';
import { MemberId, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import { gatewayAccount } from './gateway-accounts.ts';
import { startGatewayPayment, type ReturnUrls, type StartedPayment } from './gateway-payments.ts';
import type { GatewayName } from './gateways/gateway.ts';
import { openInvoiceOf } from './open-invoice.ts';
import { findAttempt, insertAttempt, setAttemptReference, type PaymentAttempt } from './payment-attempts.ts';
import { PAYMENT_VERIFICATION_WORKFLOW, paymentWorkflowId, payerReturnedSignal, type PaymentVerificationInput } from './payment-verification-contract.ts';

/** How long an eSewa attempt stays open: eSewa's payment session (its documentation gives no expiry; 30 minutes, as the simulator). */
export const ESEWA_ATTEMPT_MS = 30 * 60_000;

/**
 * Opens an attempt to pay the member's open invoice through a gateway: the attempt's row, the
 * gateway's session, then the workflow that verifies it. Nothing is trusted from the payer's
 * side: whatever happens next, the workflow asks the gateway.
 * @throws DomainError NO_OPEN_INVOICE, GATEWAY_NOT_TAKEN (naming `gateway`), the gateway's errors.
 */
export async function startPaymentAttempt(
  deps: { pool: DatabasePool; temporal: Client; keyring: Keyring },
  context: TenantContext,
  request: { memberId: string; gateway: GatewayName; urls: (attemptId: string) => ReturnUrls; now: Date },
): Promise<{ attempt: PaymentAttempt; started: StartedPayment }> {
  const attemptId = randomUUID();
  const workflowId = paymentWorkflowId(context.tenantId, attemptId);
  const { account, attempt } = await withTenant(deps.pool, context, async (tx) => {
    const invoice = await openInvoiceOf(tx, request.memberId);
    if (!invoice) throw new DomainError('NO_OPEN_INVOICE', 'there is no open invoice to pay');
    if (invoice.currency !== 'NPR') throw new DomainError('GATEWAY_NOT_TAKEN', `${request.gateway} takes rupees (NPR), not ${invoice.currency}`, { field: 'gateway' });
    const found = await gatewayAccount(tx, deps.keyring, request.gateway);
    if (!found) throw new DomainError('GATEWAY_NOT_TAKEN', `the party takes no payments through ${request.gateway}`, { field: 'gateway' });
    await insertAttempt(tx, {
      id: attemptId, tenantId: context.tenantId, memberId: request.memberId, invoiceId: invoice.id, gateway: request.gateway,
      amountMinor: invoice.amountMinor, currency: invoice.currency, reference: request.gateway === 'esewa' ? attemptId : null,
      workflowId, expiresAt: new Date(request.now.getTime() + ESEWA_ATTEMPT_MS),
    });
    return { account: found, attempt: (await findAttempt(tx, attemptId))! };
  });
  const started = await startGatewayPayment(account, attempt, request.urls(attemptId));
  if (started.reference !== attempt.reference) await withTenant(deps.pool, context, (tx) => setAttemptReference(tx, attemptId, started.reference));
  const expiresAt = started.expiresAt ?? new Date(attempt.expiresAt);
  await verifyAttempt(deps.temporal, { tenantId: context.tenantId, memberId: request.memberId, attemptId, expiresAt: expiresAt.toISOString() });
  return { attempt: { ...attempt, reference: started.reference, expiresAt: expiresAt.getTime() }, started };
}

/**
 * Starts the attempt's verification, or, when it runs, tells it the payer came back: one
 * signal-with-start, so a process that died between opening the attempt and starting its
 * workflow is made good by the payer's return.
 */
export async function verifyAttempt(client: Client, input: PaymentVerificationInput): Promise<void> {
  try {
    await client.workflow.signalWithStart(PAYMENT_VERIFICATION_WORKFLOW, {
      taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: paymentWorkflowId(input.tenantId, input.attemptId), args: [input],
      signal: payerReturnedSignal, signalArgs: [],
      // A verification that ended is not started again: its answer stands (the daily reconciliation asks again).
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantId, value: input.tenantId }, { key: MemberId, value: input.memberId }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
