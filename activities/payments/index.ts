import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { DomainError } from '../../src/errors/domain-error.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { gatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { checkGatewayPayment } from '../../src/payments/gateway-payments.ts';
import { GatewayRefusedError, type VerificationState } from '../../src/payments/gateways/gateway.ts';
import { closeAttempt, findAttempt, recordCheck, settleAttempt, type PaymentAttempt } from '../../src/payments/payment-attempts.ts';
import type { PaymentVerificationOutcome } from '../../src/payments/payment-verification-contract.ts';
import { addReconciliationItem, type ReconciliationReason } from '../../src/payments/reconciliation.ts';
import { recordPayment } from '../../src/payments/record-payment.ts';
import { invoiceHasPayment } from '../../src/payments/payments.ts';
import type { MemberActivityDeps, StepContext } from '../members/deps.ts';
import { actorOf, inTenant } from '../members/deps.ts';

export interface AttemptCheck {
  state: VerificationState;
  gatewayStatus: string;
  amountPaisa: number | null;
}

/** Refusals of the lifecycle that mean the money has no open invoice to go to: it waits for a treasurer. */
const NO_OPEN_INVOICE = new Set(['MEMBER_NOT_AWAITING_PAYMENT', 'RENEWAL_NOT_OPEN', 'INVOICE_MISMATCH', 'PAYMENT_AMOUNT_MISMATCH', 'DUPLICATE_PAYMENT_REFERENCE', 'NOT_FOUND']);

export function createPaymentActivities(deps: MemberActivityDeps, temporalClient?: Client) {
  const attemptOf = async (step: StepContext, attemptId: string): Promise<PaymentAttempt> => {
    const attempt = await inTenant(deps, step, (tx) => findAttempt(tx, attemptId));
    if (!attempt) throw ApplicationFailure.nonRetryable(`payment attempt ${attemptId} not found`, 'NOT_FOUND');
    return attempt;
  };

  return {
    /**
     * Asks the gateway, server to server, what became of the attempt, and writes down the
     * answer. A gateway that does not answer fails the step, which Temporal retries with
     * backoff: an outage is waited out.
     */
    async checkPaymentAttempt(step: StepContext, input: { attemptId: string }): Promise<AttemptCheck> {
      const attempt = await attemptOf(step, input.attemptId);
      const account = await inTenant(deps, step, (tx) => gatewayAccount(tx, deps.keyring, attempt.gateway));
      // A refusal of the party's credentials (a key rotated at the gateway but not here, an account
      // removed) is retried like an outage, until an operator puts the account right: ending the
      // verification would leave money the gateway took neither recorded nor queued.
      if (!account) throw ApplicationFailure.retryable(`the party has no ${attempt.gateway} account to ask with`, 'PAYMENT_GATEWAY_REFUSED');
      let answer;
      try {
        answer = await checkGatewayPayment(account, attempt);
      } catch (err) {
        if (err instanceof GatewayRefusedError) throw ApplicationFailure.retryable(err.message, 'PAYMENT_GATEWAY_REFUSED');
        throw toActivityFailure(err);
      }
      // A settled attempt keeps its state: a late answer about it is the daily reconciliation's to compare.
      if (attempt.settledAt === null) await inTenant(deps, step, (tx) => recordCheck(tx, attempt.id, answer));
      return { state: answer.state, gatewayStatus: answer.gatewayStatus, amountPaisa: answer.amountPaisa };
    },

    /**
     * The gateway says paid: hand the payment to the member's lifecycle (or renewal) through
     * the same Update and idempotency as any payment, keyed by (gateway, reference); money that
     * no open invoice takes goes to the reconciliation queue instead, never dropped.
     */
    async settlePaymentAttempt(step: StepContext, input: { attemptId: string; amountPaisa: number | null }): Promise<PaymentVerificationOutcome> {
      const attempt = await attemptOf(step, input.attemptId);
      if (attempt.paymentId) return { outcome: 'recorded', paymentId: attempt.paymentId };
      const reference = attempt.reference ?? attempt.id;
      const queue = async (reason: ReconciliationReason, detail: string): Promise<PaymentVerificationOutcome> => {
        await inTenant(deps, step, async (tx) => {
          await addReconciliationItem(tx, {
            tenantId: step.tenantId, gateway: attempt.gateway, reference, attemptId: attempt.id, memberId: attempt.memberId,
            amountMinor: input.amountPaisa ?? attempt.amountMinor, currency: attempt.currency, reason, detail,
          });
          await settleAttempt(tx, attempt.id, null);
        });
        return { outcome: 'reconciliation', reason };
      };
      if (input.amountPaisa !== null && input.amountPaisa !== attempt.amountMinor) {
        return queue('amount_mismatch', `the gateway took ${input.amountPaisa} paisa for an invoice of ${attempt.amountMinor}`);
      }
      if (!temporalClient) throw new Error('settling a gateway payment needs a Temporal client in the worker');
      try {
        const { payment } = await recordPayment({ pool: deps.pool, temporal: temporalClient }, { tenantId: step.tenantId, actor: actorOf(step) }, {
          memberId: attempt.memberId, invoiceId: attempt.invoiceId, amount: attempt.amountMinor, currency: attempt.currency,
          provider: attempt.gateway, reference, paidAt: deps.clock().toISOString(),
        });
        await inTenant(deps, step, (tx) => settleAttempt(tx, attempt.id, payment.id));
        return { outcome: 'recorded', paymentId: payment.id };
      } catch (err) {
        if (!(err instanceof DomainError) || !NO_OPEN_INVOICE.has(err.code)) throw toActivityFailure(err);
        const paidBefore = await inTenant(deps, step, (tx) => invoiceHasPayment(tx, attempt.invoiceId));
        return queue(paidBefore ? 'paid_twice' : 'invoice_not_open', `${err.code}: ${err.message}`);
      }
    },

    /** The attempt ended unpaid (or paid and refunded before we saw it): nothing to record. */
    async closePaymentAttempt(step: StepContext, input: { attemptId: string; state: Exclude<VerificationState, 'complete'> }): Promise<void> {
      await inTenant(deps, step, (tx) => closeAttempt(tx, input.attemptId, input.state));
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
