import { ActivityFailure, ApplicationFailure, condition, log, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { MemberActivities, StepContext as Step } from '../../activities/members/index.ts';
import type { Refusal } from '../../src/members/admission-rules.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { SealedApplication } from '../../src/members/sealed-application.ts';
import { refusalIn } from '../../src/errors/failure-details.ts';
import { signalActor } from './signal-actor.ts';
import { GeographyPath } from '../../src/temporal/search-attributes.ts';
import { LifecycleState, refusalFailure } from './lifecycle-state.ts';
import { LOCAL_STEP_OPTIONS, MAIL_OPTIONS, STEP_OPTIONS } from '../activity-options.ts';
import { CARDS_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { CARDS_OWN_QUEUE, CONTACT_TAKEN_REFUSAL, HEADS_TOLD_ON_ARRIVAL, LIFECYCLE_MERGED_STEPS, OPERATOR_SIGNAL_ACTORS, REGISTERED_BY_REQUEST } from '../../src/temporal/workflow-patches.ts';

const steps = proxyActivities<MemberActivities>(STEP_OPTIONS);
// The settings read, run in the worker holding the workflow task (lifecycles since LIFECYCLE_MERGED_STEPS).
// Only a read: a step with effects that an Update starts stays an activity, scheduled in the
// workflow task that accepts the Update, so its effects never precede the Update's record.
const local = proxyLocalActivities<MemberActivities>(LOCAL_STEP_OPTIONS);
// Mail waits out an SMTP outage: unlimited attempts, and never on the lifecycle's critical path.
const mail = proxyActivities<MemberActivities>(MAIL_OPTIONS);
// Lifecycles since CARDS_OWN_QUEUE: the card and the email on the card task queue, served by the
// worker process WORKER_TASK_QUEUES gives it (CPU-heavy work off the workflow tasks' event loop).
type CardQueueActivities = Pick<MemberActivities, 'issueIdCard' | 'sendMemberEmail' | 'notifyContactHolder' | 'notifyCommitteeHeads'>;
const cardQueue = proxyActivities<CardQueueActivities>({ ...STEP_OPTIONS, taskQueue: CARDS_TASK_QUEUE });
const mailQueue = proxyActivities<CardQueueActivities>({ ...MAIL_OPTIONS, taskQueue: CARDS_TASK_QUEUE });

/** One application, from registration to an active member holding an ID card. */
export async function memberLifecycle(input: m.MemberLifecycleInput): Promise<m.LifecycleStatus> {
  const step = { tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId };
  // Decided once, in the first workflow task: a lifecycle runs its steps one way throughout.
  const merged = patched(LIFECYCLE_MERGED_STEPS);
  const ownQueue = patched(CARDS_OWN_QUEUE);
  const cards: CardQueueActivities = ownQueue ? cardQueue : steps;
  const mailer: CardQueueActivities = ownQueue ? mailQueue : mail;
  const state = new LifecycleState();
  const mailing: Promise<unknown>[] = [];
  const send = (email: Parameters<MemberActivities['sendMemberEmail']>[1]) =>
    deliverInBackground(mailing, mailer.sendMemberEmail(step, email), `${email.kind} email`);
  const registration = acceptRegistration(input, state, step);
  setHandler(m.statusQuery, () => state.status());
  registerApprovalHandlers(state, merged);

  await condition(() => registration() !== undefined, '1 hour');
  const registered = registration();
  if (registered === undefined || registered === 'failed') {
    state.enter('RegistrationRefused');
    return state.status();
  }
  if (registered.refusal) {
    deliverInBackground(mailing, mailer.notifyContactHolder(step, registered.refusal), 'contact holder notice');
    return finish(state, mailing);
  }
  upsertSearchAttributes([{ key: GeographyPath, value: registered.geographyPath }]);
  if (patched(HEADS_TOLD_ON_ARRIVAL)) {
    deliverInBackground(mailing, mailer.notifyCommitteeHeads(step, { committeeId: registered.committeeId, escalated: false, arrival: true }), 'arrival notice');
  }
  const settings = await (merged ? local : steps).loadLifecycleSettings(step);
  await awaitApproval(state, step, settings, registered.committeeId, mailing, mailer);

  if (state.withdrawal) return finishWithdrawn(state, step);
  if (!state.decision?.approved) {
    const reason = state.decision?.message.reason ?? '';
    await steps.recordRejection(step, state.decision?.message.by ?? 'unknown', reason);
    state.enter('Rejected');
    send({ kind: 'rejected', reason });
    return finish(state, mailing);
  }
  const { by, note } = state.decision.message;
  const fee = { amountMinor: settings.admissionFeeMinor, currency: settings.currency, paymentWindowMs: settings.paymentWindowMs };
  // Merged: the approval and its invoice in one transaction, one activity.
  const invoice = merged ? await steps.approveAndInvoice(step, { by, note: note ?? null }, fee) : undefined;
  if (!invoice) await steps.recordApproval(step, by, note ?? null);
  state.enter('Approved');
  send({ kind: 'approved' });
  state.invoice = invoice ?? await steps.issueInvoice(step, fee.amountMinor, fee.currency, fee.paymentWindowMs);
  state.enter('AwaitingPayment');
  send({ kind: 'invoice', invoiceId: state.invoice.invoiceId, amountMinor: state.invoice.amountMinor, dueAt: state.invoice.dueAt });

  // Merged: the payment and the activation it pays for in one transaction, one activity.
  let activated: string | undefined;
  const record = merged
    ? async (payment: m.PaymentMessage) => {
      const done = await steps.payAndActivate(step, payment);
      activated = done.memberNumber;
      return done.payment;
    }
    : (payment: m.PaymentMessage) => steps.recordPayment(step, payment);
  const paid = await awaitPayment(state, settings.paymentWindowMs, record);
  if (state.withdrawal) return finishWithdrawn(state, step);
  if (!paid) {
    await steps.expireApplication(step);
    state.enter('Expired');
    send({ kind: 'lapsed', invoiceId: state.invoice.invoiceId });
    return finish(state, mailing);
  }
  state.enter('Paid');
  state.memberNumber = activated ?? (await steps.activateMember(step)).memberNumber;
  state.enter('Active');
  await cards.issueIdCard(step);
  state.enter('CardIssued');
  send({ kind: 'activated', memberNumber: state.memberNumber });
  return finish(state, mailing);
}

/**
 * The register Update: records the application once. A repeat of it (Update-with-Start under
 * the same Idempotency-Key) gets the first one's answer; another application under the same
 * key is refused (IDEMPOTENCY_KEY_REUSED). An application whose phone or email is taken is
 * answered like any other and ends the lifecycle RegistrationRefused.
 * @returns how registration went so far: undefined while it has not happened.
 */
function acceptRegistration(input: m.MemberLifecycleInput, state: LifecycleState, step: Step): () => m.RegistrationResult | 'failed' | undefined {
  let outcome: m.RegistrationResult | 'failed' | undefined;
  let registering: Promise<m.RegisterResult> | undefined;
  let digest: string | undefined;
  const register = async (application: SealedApplication): Promise<m.RegisterResult> => {
    digest = application.digest;
    let recorded: m.RegistrationResult;
    try {
      recorded = await steps.recordApplication(step, application);
    } catch (err) {
      outcome = 'failed';
      throw refusalFailure(refusalOf(err, 'REGISTRATION_FAILED'));
    }
    return taken(recorded);
  };
  const taken = (recorded: m.RegistrationResult): m.RegisterResult => {
    // Decided once, for the stage here and the notice in the main flow alike.
    const { refusal, ...rest } = recorded;
    outcome = refusal && patched(CONTACT_TAKEN_REFUSAL) ? { ...rest, refusal } : rest;
    state.enter(outcome.refusal ? 'RegistrationRefused' : 'AwaitingApproval');
    return { stage: state.stage, registeredAt: outcome.registeredAt ?? new Date().toISOString(), committeeId: outcome.committeeId };
  };
  // Recorded by the registration request before the lifecycle started: nothing to record. A
  // register Update (a client of the earlier kind repeating the request) gets the same answer.
  if (input.recorded && patched(REGISTERED_BY_REQUEST)) {
    const { digest: recordedDigest, ...recorded } = input.recorded;
    digest = recordedDigest;
    registering = Promise.resolve(taken(recorded));
  }
  setHandler(m.registerUpdate, (application) => (registering ??= register(application)), { validator: (application: SealedApplication) => {
    if (application.tenantId !== input.tenantId || application.memberId !== input.memberId) throw new Error('application is for another lifecycle');
    if (registering && application.digest !== digest) {
      throw refusalFailure({ code: 'IDEMPOTENCY_KEY_REUSED', message: m.IDEMPOTENCY_KEY_REUSED_MESSAGE });
    }
  } });
  return () => outcome;
}

/**
 * Waits for a payment the database accepts, until the window closes. A payment the activity
 * refuses (e.g. a provider reference that already paid another invoice) is reported to its
 * sender and the wait goes on.
 */
async function awaitPayment(state: LifecycleState, windowMs: number, record: (payment: m.PaymentMessage) => Promise<m.RecordedPayment>): Promise<boolean> {
  const closesAt = workflowNow() + windowMs;
  for (;;) {
    const arrived = await condition(() => state.payment !== undefined || state.withdrawal !== undefined, Math.max(closesAt - workflowNow(), 1));
    if (!arrived || state.withdrawal || !state.payment) return false;
    const payment = state.payment;
    try {
      state.recordedPayment = await record(payment);
      return true;
    } catch (err) {
      if (!failureOf(err)) throw err;
      state.refusePayment(payment, refusalOf(err, 'PAYMENT_REFUSED'));
    }
  }
}

/**
 * The refusal an activity's non-retryable failure carries: its type is a code of the error
 * table, its first detail may name the field. A type outside the table counts as `fallback`.
 */
function refusalOf(err: unknown, fallback: Refusal['code']): Refusal {
  const failure = failureOf(err);
  return (failure && refusalIn(failure)) ?? { code: fallback, message: failure?.message ?? String(err) };
}

/** The failure a step's activity threw, which reaches the workflow wrapped in an ActivityFailure. */
function failureOf(err: unknown): ApplicationFailure | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
}

/** Workflow time: Temporal's sandbox gives `Date` the current workflow task's time, replayed identically. */
function workflowNow(): number {
  return new Date().getTime();
}

/** Waits for a head's decision, reminding the committee and then escalating to its parent's heads. */
async function awaitApproval(state: LifecycleState, step: Step,
  settings: { approvalReminderAfterMs: number; approvalEscalationAfterMs: number }, committeeId: string | null, mailing: Promise<unknown>[], mailer: CardQueueActivities): Promise<void> {
  const decided = () => state.decision !== undefined || state.withdrawal !== undefined;
  if (await condition(decided, settings.approvalReminderAfterMs)) return;
  await steps.recordReminder(step, committeeId);
  deliverInBackground(mailing, mailer.notifyCommitteeHeads(step, { committeeId, escalated: false }), 'reminder');
  if (await condition(decided, settings.approvalEscalationAfterMs - settings.approvalReminderAfterMs)) return;
  const parent = await steps.parentCommittee(step, committeeId);
  await steps.recordEscalation(step, committeeId, parent);
  state.escalated = true;
  deliverInBackground(mailing, mailer.notifyCommitteeHeads(step, { committeeId: parent, escalated: true }), 'escalation');
  await condition(decided);
}

/** The decision a signal carries, with its sender recorded as an operator. */
function fromOperator<T extends { by: string }>(message: T): T {
  return patched(OPERATOR_SIGNAL_ACTORS) ? { ...message, by: signalActor(message.by) } : message;
}

/**
 * @param merged a lifecycle since LIFECYCLE_MERGED_STEPS: its approval and invoice are recorded
 *   together, and the approve Update answers once the invoice is issued, with it (clients need not poll).
 */
function registerApprovalHandlers(state: LifecycleState, merged: boolean): void {
  const approve = (message: m.ApproveMessage) => { state.checkDecision(); state.decision = { approved: true, message }; };
  const reject = (message: m.RejectMessage) => { state.checkDecision(); state.decision = { approved: false, message }; };
  const withdraw = (message: m.WithdrawMessage) => { state.checkWithdrawal(); state.withdrawal = message; };
  const pay = (message: m.PaymentMessage) => { if (state.checkPayment(message) === 'new') state.payment = message; };
  const settled = (from: m.MemberStageName) => condition(() => state.stage !== from).then(() => ({ stage: state.stage }));

  const invoiced = (): Promise<m.ApproveResult> =>
    condition(() => state.stage !== 'AwaitingApproval' && state.stage !== 'Approved').then(() => ({ stage: state.stage, invoice: state.invoice }));
  setHandler(m.approveUpdate, (msg) => { approve(msg); return merged ? invoiced() : settled('AwaitingApproval'); }, { validator: (_msg) => state.checkDecision() });
  setHandler(m.rejectUpdate, (msg) => { reject(msg); return settled('AwaitingApproval'); }, { validator: (_msg) => state.checkDecision() });
  setHandler(m.withdrawUpdate, (msg) => { const from = state.stage; withdraw(msg); return settled(from); }, { validator: (_msg) => state.checkWithdrawal() });
  setHandler(m.paymentReceivedUpdate, async (msg) => {
    pay(msg);
    await condition(() => state.stage !== 'AwaitingPayment' || state.refusalOf(msg) !== undefined);
    const refusal = state.refusalOf(msg);
    if (refusal) throw refusalFailure(refusal);
    return { stage: state.stage, payment: state.recordedPayment ?? null };
  }, { validator: (msg: m.PaymentMessage) => void state.checkPayment(msg) });
  // Updates come from the API, which names the deciding head as `user:<id>` after checking they
  // head a committee covering the ward. Signals come from operators, who are recorded as such.
  setHandler(m.approveSignal, (msg) => LifecycleState.ignoreInvalid(() => approve(fromOperator(msg)), 'approve'));
  setHandler(m.rejectSignal, (msg) => LifecycleState.ignoreInvalid(() => reject(fromOperator(msg)), 'reject'));
  setHandler(m.withdrawSignal, (msg) => LifecycleState.ignoreInvalid(() => withdraw(msg), 'withdraw'));
  setHandler(m.paymentReceivedSignal, (msg) => LifecycleState.ignoreInvalid(() => pay(msg), 'paymentReceived'));
}

async function finishWithdrawn(state: LifecycleState, step: Step): Promise<m.LifecycleStatus> {
  await steps.recordWithdrawal(step, state.withdrawal?.reason ?? '');
  state.enter('Withdrawn');
  return state.status();
}

/** Mail never blocks the lifecycle: it runs beside it, and the lifecycle waits for it only at the end. */
function deliverInBackground(mailing: Promise<unknown>[], sending: Promise<unknown>, what: string): void {
  mailing.push(sending.catch((err: unknown) => log.warn(`${what} not delivered`, { error: String(err) })));
}

async function finish(state: LifecycleState, mailing: Promise<unknown>[]): Promise<m.LifecycleStatus> {
  await Promise.all(mailing);
  return state.status();
}
