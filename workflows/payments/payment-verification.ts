import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { StepContext as Step } from '../../activities/members/index.ts';
import type { PaymentActivities } from '../../activities/payments/index.ts';
import * as p from '../../src/payments/payment-verification-contract.ts';
import { STEP_OPTIONS } from '../activity-options.ts';

const steps = proxyActivities<PaymentActivities>(STEP_OPTIONS);

/** What the gateway may still change: ask again later. */
const HELD = new Set(['pending', 'ambiguous', 'not_found']);

/**
 * Verifies one attempt to pay through eSewa or Khalti (docs/payments.md, "eSewa and Khalti"):
 * asks the gateway's status API, server to server, until it gives a final answer or the
 * attempt has expired (and a grace period passed), waiting longer each time (5 s doubling to
 * 5 min) or until the payer's browser comes back (a Signal, never trusted as an answer). A
 * gateway outage fails the check, which is retried with backoff: it is waited out. Paid: the
 * payment goes to the member's lifecycle through the same Update and idempotency as any
 * other, or to the reconciliation queue when no open invoice takes it.
 */
export async function paymentVerification(input: p.PaymentVerificationInput): Promise<p.PaymentVerificationOutcome> {
  const step: Step = { tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId };
  let returned = false;
  setHandler(p.payerReturnedSignal, () => {
    returned = true;
  });
  const askUntil = Date.parse(input.expiresAt) + p.VERIFICATION_GRACE_MS;
  let wait = p.FIRST_POLL_MS;
  for (;;) {
    returned = false;
    const check = await steps.checkPaymentAttempt(step, { attemptId: input.attemptId });
    if (check.state === 'complete') return steps.settlePaymentAttempt(step, { attemptId: input.attemptId, amountPaisa: check.amountPaisa });
    const held = HELD.has(check.state);
    if (!held || new Date().getTime() >= askUntil) {
      // Still pending at the end: it expired unpaid here; were it paid later, the daily reconciliation finds it.
      const state = held ? 'expired' : check.state;
      await steps.closePaymentAttempt(step, { attemptId: input.attemptId, state });
      return { outcome: state === 'not_found' ? 'not_found' : state } as p.PaymentVerificationOutcome;
    }
    await condition(() => returned, Math.max(1_000, Math.min(wait, askUntil - new Date().getTime())));
    wait = Math.min(wait * 2, p.LONGEST_POLL_MS);
  }
}
