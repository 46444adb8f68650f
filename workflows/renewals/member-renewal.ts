import { ActivityFailure, ApplicationFailure, condition, log, patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { MemberActivities, StepContext as Step } from '../../activities/members/index.ts';
import type { RenewalActivities, RenewalPayment } from '../../activities/renewals/index.ts';
import type { Refusal } from '../../src/members/admission-rules.ts';
import type { PaymentMessage } from '../../src/members/lifecycle-contract.ts';
import * as r from '../../src/renewals/renewal-contract.ts';
import { refusalIn } from '../../src/errors/failure-details.ts';
import { MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';
import { refusalFailure } from '../members/lifecycle-state.ts';
import { MAIL_OPTIONS, STEP_OPTIONS } from '../activity-options.ts';
import { CARDS_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { RENEWAL_CARDS_OWN_QUEUE } from '../../src/temporal/workflow-patches.ts';

const steps = proxyActivities<RenewalActivities & MemberActivities>(STEP_OPTIONS);
// Mail waits out an SMTP outage, beside the renewal, never on its critical path.
const mail = proxyActivities<MemberActivities>(MAIL_OPTIONS);
// Renewals since RENEWAL_CARDS_OWN_QUEUE: the card and the emails on the card task queue (as lifecycles').
type CardQueueActivities = Pick<MemberActivities, 'issueIdCard' | 'sendMemberEmail'>;
const cardQueue = proxyActivities<CardQueueActivities>({ ...STEP_OPTIONS, taskQueue: CARDS_TASK_QUEUE });
const mailQueue = proxyActivities<CardQueueActivities>({ ...MAIL_OPTIONS, taskQueue: CARDS_TASK_QUEUE });

const FINAL: readonly r.RenewalStatus['stage'][] = ['Renewed', 'Reinstated', 'RenewalClosed', 'RenewalNotDue'];

/**
 * The renewal of one member's term (docs/membership.md, "Renewal"), started by the daily run
 * when the renewal falls due, or by staff. It issues the renewal invoice and emails it, then
 * waits for the payment (the same paymentReceived Update and Signal as admission) until the
 * grace period ends. Paid: the next term is recorded and a card valid to the new paid-until
 * issued. Unpaid: the member lapses, and may still pay within the reinstatement window, which
 * reinstates them with the same number; after it the invoice is voided.
 */
export async function memberRenewal(input: r.MemberRenewalInput): Promise<{ outcome: r.RenewalOutcome }> {
  const step: Step = { tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId };
  // Decided once, in the first workflow task: a renewal runs its steps one way throughout.
  const ownQueue = patched(RENEWAL_CARDS_OWN_QUEUE);
  const cards: CardQueueActivities = ownQueue ? cardQueue : steps;
  const mailer: CardQueueActivities = ownQueue ? mailQueue : mail;
  const status: r.RenewalStatus = { stage: 'Opening', invoice: null, lapsesAt: null, closesAt: null };
  const payments = new PaymentInbox();
  const mailing: Promise<unknown>[] = [];
  const background = (sending: Promise<unknown>, what: string) => mailing.push(sending.catch((err: unknown) => log.warn(`${what} not delivered`, { error: String(err) })));
  const enter = (stage: r.RenewalStage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: MemberStage, value: stage }, { key: StageEnteredAt, value: new Date() }]);
  };
  const end = async (outcome: r.RenewalOutcome) => {
    await Promise.all(mailing);
    return { outcome };
  };

  setHandler(r.renewalStatusQuery, () => status);
  setHandler(r.renewalPaymentUpdate, async (message) => {
    payments.offer(message);
    await condition(() => payments.recorded !== undefined || payments.refusalOf(message) !== undefined || FINAL.includes(status.stage));
    const refusal = payments.refusalOf(message);
    if (refusal) throw refusalFailure(refusal);
    // Only this message's own payment counts as taken: another one recorded first answers null.
    const recorded = payments.recordedFor(message);
    return { stage: status.stage, payment: recorded ? { paymentId: recorded.paymentId, recordedAt: recorded.recordedAt } : null };
  }, {
    validator: (_message: PaymentMessage) => {
      if (FINAL.includes(status.stage) || payments.recorded) throw refusalFailure({ code: 'RENEWAL_NOT_OPEN', message: `the renewal is ${status.stage}, not awaiting payment` });
    },
  });
  // Operators (Temporal UI, CLI) and fire-and-forget senders.
  setHandler(r.renewalPaymentSignal, (message) => payments.offer(message));

  const opened = await steps.openRenewal(step, { termNumber: input.termNumber, startedBy: input.startedBy });
  if (!opened.due) {
    log.info('renewal not due', { reason: opened.reason });
    enter('RenewalNotDue');
    return end('not_due');
  }
  // Workflow time: the sandbox gives `Date` the current workflow task's time, replayed identically.
  const opening = new Date().getTime();
  const lapsesAt = opening + opened.lapsesInMs;
  const closesAt = opening + opened.closesInMs;
  Object.assign(status, { invoice: opened.invoice, lapsesAt: new Date(lapsesAt).toISOString(), closesAt: new Date(closesAt).toISOString() });
  enter('AwaitingRenewalPayment');
  background(mailer.sendMemberEmail(step, {
    kind: 'renewal-invoice', invoiceId: opened.invoice.invoiceId, amountMinor: opened.invoice.amountMinor,
    paidUntil: opened.paidUntil, graceUntil: opened.graceUntil,
  }), 'renewal invoice email');

  let paid = await payments.await(step, lapsesAt);
  if (!paid) {
    let lapsed: boolean;
    try {
      lapsed = await steps.lapseMembership(step);
    } catch (err) {
      // The member left meanwhile (resigned, expelled, died): nothing to lapse, the invoice goes.
      refusalOf(err);
      lapsed = false;
    }
    if (!lapsed) {
      await steps.closeRenewal(step, opened.invoice.invoiceId);
      enter('RenewalClosed');
      return end('closed');
    }
    enter('TermLapsed');
    background(mailer.sendMemberEmail(step, { kind: 'term-lapsed', paidUntil: opened.paidUntil, reinstatableUntil: opened.reinstatableUntil }), 'lapse email');
    paid = await payments.await(step, closesAt);
    if (!paid) {
      await steps.closeRenewal(step, opened.invoice.invoiceId);
      enter('RenewalClosed');
      return end('closed');
    }
  }
  if (paid.status === 'active') await cards.issueIdCard(step, { validUntil: paid.paidThrough });
  enter(paid.reinstated ? 'Reinstated' : 'Renewed');
  if (paid.memberNumber) {
    background(mailer.sendMemberEmail(step, { kind: paid.reinstated ? 'reinstated' : 'renewed', memberNumber: paid.memberNumber, paidThrough: paid.paidThrough, withCard: paid.status === 'active' }),
      'renewal email');
  }
  return end(paid.reinstated ? 'reinstated' : 'renewed');
}

/** The payments offered to the renewal: one is recorded at a time; a refused one is answered to its sender and the wait goes on. */
class PaymentInbox {
  pending: PaymentMessage | undefined;
  recorded: RenewalPayment | undefined;
  #recordedMessage: PaymentMessage | undefined;
  readonly #refusals: { message: PaymentMessage; refusal: Refusal }[] = [];

  offer(message: PaymentMessage): void {
    if (this.recorded || this.pending || this.refusalOf(message)) return;
    this.pending = message;
  }

  recordedFor(message: PaymentMessage): RenewalPayment | undefined {
    const m = this.#recordedMessage;
    return m && m.provider === message.provider && m.providerRef === message.providerRef ? this.recorded : undefined;
  }

  refusalOf(message: PaymentMessage): Refusal | undefined {
    return this.#refusals.find((r) => r.message.provider === message.provider && r.message.providerRef === message.providerRef)?.refusal;
  }

  /** Waits for a payment the activity records, until `deadline` (workflow time). @returns it, or undefined when none came in time. */
  async await(step: Step, deadline: number): Promise<RenewalPayment | undefined> {
    for (;;) {
      const arrived = await condition(() => this.pending !== undefined, Math.max(deadline - new Date().getTime(), 1));
      if (!arrived || !this.pending) return undefined;
      const message = this.pending;
      try {
        this.recorded = await steps.recordRenewalPayment(step, message);
        this.#recordedMessage = message;
        return this.recorded;
      } catch (err) {
        this.#refusals.push({ message, refusal: refusalOf(err) });
        this.pending = undefined;
      }
    }
  }
}

/** The refusal an activity's non-retryable failure carries; anything else is the workflow's failure. */
function refusalOf(err: unknown): Refusal {
  const failure = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
  const refusal = failure && refusalIn(failure);
  if (!refusal) throw err;
  return refusal;
}
