/**
 * The payment verification workflow's contract (docs/payments.md, "eSewa and Khalti"): its
 * input, the Signal that says the payer came back, and its outcomes. No logic, no I/O.
 */
import { defineSignal } from '@temporalio/workflow';

/** The workflow type that verifies one attempt to pay through a gateway (workflows/payments/payment-verification.ts). */
export const PAYMENT_VERIFICATION_WORKFLOW = 'paymentVerification';

/** `payment-<tenant>-<attempt>`: one verification per attempt, however often it is started or signalled. */
export function paymentWorkflowId(tenantId: string, attemptId: string): string {
  return `payment-${tenantId}-${attemptId}`;
}

export interface PaymentVerificationInput {
  tenantId: string;
  memberId: string;
  attemptId: string;
  /** When the gateway stops taking the payment (ISO); the workflow asks until a while after. */
  expiresAt: string;
}

/** The payer's browser came back from the gateway: ask now rather than at the next poll. Never trusted as an answer. */
export const payerReturnedSignal = defineSignal('payerReturned');

export type PaymentVerificationOutcome =
  | { outcome: 'recorded'; paymentId: string }
  | { outcome: 'reconciliation'; reason: string }
  | { outcome: 'expired' | 'canceled' | 'failed' | 'refunded' | 'partially_refunded' | 'not_found' };

/** After the attempt's expiry the workflow keeps asking this long: a payment finished at the last moment is still found. */
export const VERIFICATION_GRACE_MS = 10 * 60_000;
/** The first wait between two questions to the gateway; doubled each time up to the longest. */
export const FIRST_POLL_MS = 5_000;
export const LONGEST_POLL_MS = 5 * 60_000;
