import { ActivityFailure, allHandlersFinished, ApplicationFailure, condition, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { MemberActivities, StepContext as Step } from '../../activities/members/index.ts';
import type { Refusal } from '../../src/members/admission-rules.ts';
import * as c from '../../src/members/status-change-contract.ts';
import { refusalIn } from '../../src/errors/failure-details.ts';
import { refusalFailure } from './lifecycle-state.ts';
import { MAIL_OPTIONS, STEP_OPTIONS } from '../activity-options.ts';
import { CARDS_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { STATUS_CHANGE_CARDS_OWN_QUEUE } from '../../src/temporal/workflow-patches.ts';

const steps = proxyActivities<MemberActivities>(STEP_OPTIONS);
// Mail waits out an SMTP outage and never holds up the change itself.
const mail = proxyActivities<MemberActivities>(MAIL_OPTIONS);
// Status changes since STATUS_CHANGE_CARDS_OWN_QUEUE: the card and the emails on the card task queue (as lifecycles').
type CardQueueActivities = Pick<MemberActivities, 'issueIdCard' | 'sendMemberEmail' | 'sendResignationLink'>;
const cardQueue = proxyActivities<CardQueueActivities>({ ...STEP_OPTIONS, taskQueue: CARDS_TASK_QUEUE });
const mailQueue = proxyActivities<CardQueueActivities>({ ...MAIL_OPTIONS, taskQueue: CARDS_TASK_QUEUE });
/** Where this status change issues its card and sends its email, decided once, in its first workflow task. */
interface Senders { cards: CardQueueActivities; mail: CardQueueActivities }

/**
 * One status change of a member after admission (docs/membership.md, "Status changes"),
 * started by the API with Update-with-Start: the `applied` Update answers once the change is
 * recorded, or with the member rule's refusal. A suspension then waits, on a durable timer,
 * for its end (or a `lift` Update), lifts it and issues a new card; an expulsion proposal waits
 * for a `confirm` Update from a head of the parent committee.
 */
export async function memberStatusChange(input: c.StatusChangeInput): Promise<c.StatusChangeOutcome> {
  const { workflowId } = workflowInfo();
  const step: Step = { tenantId: input.tenantId, memberId: input.memberId, workflowId };
  const change = input.change;
  const ownQueue = patched(STATUS_CHANGE_CARDS_OWN_QUEUE);
  const senders: Senders = ownQueue ? { cards: cardQueue, mail: mailQueue } : { cards: steps, mail };
  const mailing: Promise<unknown>[] = [];
  let stage = 'applying';
  let applied: c.AppliedResult | undefined;
  let refused: Refusal | undefined;
  setHandler(c.changeQuery, () => ({ stage }));
  setHandler(c.appliedUpdate, async () => {
    await condition(() => applied !== undefined || refused !== undefined);
    if (refused) throw refusalFailure(refused);
    return applied!;
  });

  if (change.kind === 'resignation-link') {
    applied = { workflowId, status: 'active' };
    const sent = await senders.mail.sendResignationLink(step, { expiresAt: change.expiresAt, linkBase: change.linkBase });
    stage = sent;
    return end('applied', mailing);
  }
  try {
    applied = { workflowId, status: (await steps.applyStatusChange(step, change)).status };
  } catch (err) {
    refused = refusalOf(err);
    stage = 'refused';
    return end('refused', mailing);
  }
  stage = 'applied';
  switch (change.kind) {
    case 'suspension':
      background(mailing, senders.mail.sendMemberEmail(step, { kind: 'suspended', until: change.until, reasonCode: change.reasonCode }), 'suspension email');
      return awaitSuspensionEnd(step, change, mailing, senders, (s) => (stage = s));
    case 'expulsion':
      stage = 'proposed';
      return awaitConfirmation(step, change, mailing, senders, (s) => (stage = s));
    case 'resignation':
      background(mailing, senders.mail.sendMemberEmail(step, { kind: 'resigned' }), 'resignation email');
      return end('applied', mailing);
    case 'death':
      // Nobody to write to.
      return end('applied', mailing);
  }
}

async function awaitSuspensionEnd(step: Step, change: Extract<c.StatusChange, { kind: 'suspension' }>, mailing: Promise<unknown>[], senders: Senders, at: (stage: string) => void): Promise<c.StatusChangeOutcome> {
  let lift: c.LiftMessage | undefined;
  let lifted: c.AppliedResult | undefined;
  let refused: Refusal | undefined;
  setHandler(c.liftUpdate, async (message) => {
    lift ??= message;
    await condition(() => lifted !== undefined || refused !== undefined);
    if (refused) throw refusalFailure(refused);
    return lifted!;
  }, {
    validator: (_message: c.LiftMessage) => {
      if (lifted || refused) throw ApplicationFailure.nonRetryable('the suspension has already ended', 'MEMBER_NOT_SUSPENDED');
    },
  });
  // Workflow time: the timer is durable, and a replay waits the same.
  const early = await condition(() => lift !== undefined, Math.max(Date.parse(change.until) - new Date().getTime(), 1));
  let memberNumber: string | null;
  try {
    const result = await steps.liftSuspension(step, { by: early ? lift!.by : `workflow:${step.workflowId}`, early });
    lifted = { workflowId: step.workflowId, status: result.status };
    memberNumber = result.memberNumber;
  } catch (err) {
    // The member left meanwhile (e.g. a death was recorded): nothing to lift.
    refused = refusalOf(err);
    at('void');
    return end('refused', mailing);
  }
  at('lifted');
  await senders.cards.issueIdCard(step);
  at('card-issued');
  if (memberNumber) background(mailing, senders.mail.sendMemberEmail(step, { kind: 'suspension-lifted', memberNumber }), 'suspension lifted email');
  return end('lifted', mailing);
}

async function awaitConfirmation(step: Step, proposal: Extract<c.StatusChange, { kind: 'expulsion' }>, mailing: Promise<unknown>[], senders: Senders, at: (stage: string) => void): Promise<c.StatusChangeOutcome> {
  let confirmation: c.ConfirmMessage | undefined;
  let expelled: c.AppliedResult | undefined;
  let refused: Refusal | undefined;
  setHandler(c.confirmUpdate, async (message) => {
    confirmation = message;
    refused = undefined;
    await condition(() => expelled !== undefined || refused !== undefined);
    if (refused) throw refusalFailure(refused);
    return expelled!;
  }, {
    // Refused before it enters the history; the member aggregate refuses it again (EXPULSION_SAME_PERSON).
    validator: (message: c.ConfirmMessage) => {
      if (message.by === proposal.by) throw refusalFailure({ code: 'EXPULSION_SAME_PERSON', message: 'the head who proposed the expulsion cannot confirm it: a head of the parent committee must' });
      if (confirmation || expelled) throw refusalFailure({ code: 'STATUS_CHANGE_IN_PROGRESS', message: 'the expulsion is being confirmed' });
    },
  });
  for (;;) {
    await condition(() => confirmation !== undefined);
    try {
      const result = await steps.confirmExpulsion(step, { by: confirmation!.by, note: confirmation!.note ?? null });
      expelled = { workflowId: step.workflowId, status: result.status };
      at('expelled');
      background(mailing, senders.mail.sendMemberEmail(step, { kind: 'expelled', reasonCode: result.reasonCode }), 'expulsion email');
      return end('expelled', mailing);
    } catch (err) {
      refused = refusalOf(err);
      confirmation = undefined;
      // The member is no longer active (resigned, died, suspended): the proposal is void.
      if (refused.code === 'MEMBER_NOT_ACTIVE' || refused.code === 'EXPULSION_NOT_PROPOSED') {
        at('void');
        return end('proposal-void', mailing);
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

function background(mailing: Promise<unknown>[], sending: Promise<unknown>, what: string): void {
  mailing.push(sending.catch((err: unknown) => log.warn(`${what} not delivered`, { error: String(err) })));
}

async function end(outcome: c.StatusChangeOutcome['outcome'], mailing: Promise<unknown>[]): Promise<c.StatusChangeOutcome> {
  await Promise.all(mailing);
  await condition(allHandlersFinished);
  return { outcome };
}
