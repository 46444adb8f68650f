import { ActivityFailure, ApplicationFailure, condition, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { MemberActivities } from '../../activities/members/index.ts';
import type { TransferActivities } from '../../activities/transfers/index.ts';
import * as t from '../../src/transfers/transfer-contract.ts';
import { signalActor } from '../members/signal-actor.ts';
import { MAIL_OPTIONS, STEP_OPTIONS } from '../activity-options.ts';
import { CARDS_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { TRANSFER_CARDS_OWN_QUEUE } from '../../src/temporal/workflow-patches.ts';

const steps = proxyActivities<TransferActivities & MemberActivities>(STEP_OPTIONS);
// Mail waits out an SMTP outage, beside the transfer, never on its critical path.
const mail = proxyActivities<TransferActivities>(MAIL_OPTIONS);
// Transfers since TRANSFER_CARDS_OWN_QUEUE: the card, the notices and the emails on the card task queue (as lifecycles').
type CardActivities = Pick<MemberActivities, 'issueIdCard'>;
type MailActivities = Pick<TransferActivities, 'notifyTransferCommittees' | 'sendTransferEmail'>;
const cardQueue = proxyActivities<CardActivities>({ ...STEP_OPTIONS, taskQueue: CARDS_TASK_QUEUE });
const mailQueue = proxyActivities<MailActivities>({ ...MAIL_OPTIONS, taskQueue: CARDS_TASK_QUEUE });

type Decision = { kind: 'approved'; by: string } | { kind: 'refused'; by: string; reasonCode: t.TransferRefusalReason } | { kind: 'window' };

/**
 * One transfer of a member to another ward: the committees are told, then a head covering the
 * destination approves or refuses it; nobody refusing within the party's transfer window
 * accepts it. On acceptance the member moves (one transaction), a card naming the new ward is
 * issued and emailed to them.
 */
export async function memberTransfer(input: t.MemberTransferInput): Promise<t.TransferOutcome> {
  const step = { tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId };
  // Decided once, in the first workflow task: a transfer runs its steps one way throughout.
  const ownQueue = patched(TRANSFER_CARDS_OWN_QUEUE);
  const cards: CardActivities = ownQueue ? cardQueue : steps;
  const mailer: MailActivities = ownQueue ? mailQueue : mail;
  let decision: Decision | undefined;
  let status: t.TransferStatus = 'requested';
  const mailing: Promise<unknown>[] = [];
  const background = (sending: Promise<unknown>, what: string) => mailing.push(sending.catch((err: unknown) => log.warn(`${what} not delivered`, { error: String(err) })));

  const undecided = (_msg: unknown) => {
    if (decision) throw ApplicationFailure.nonRetryable('the transfer is already decided', 'TRANSFER_DECIDED');
  };
  const settled = () => condition(() => status !== 'requested').then(() => ({ status }));
  setHandler(t.approveTransferUpdate, (msg) => { decision = { kind: 'approved', by: msg.by }; return settled(); }, { validator: undecided });
  setHandler(t.refuseTransferUpdate, (msg) => { decision = { kind: 'refused', by: msg.by, reasonCode: msg.reasonCode }; return settled(); }, { validator: undecided });
  // Signals come from operators: recorded as operator:<name>, whatever `by` says; ignored once decided.
  setHandler(t.approveTransferSignal, (msg) => { decision ??= { kind: 'approved', by: signalActor(msg.by) }; });
  setHandler(t.refuseTransferSignal, (msg) => {
    if (t.TRANSFER_REFUSAL_REASONS.includes(msg.reasonCode)) decision ??= { kind: 'refused', by: signalActor(msg.by), reasonCode: msg.reasonCode };
  });
  setHandler(t.transferStatusQuery, () => ({ status, decision: decision ? (decision.kind) : null }));

  background(mailer.notifyTransferCommittees(step, input.transferId), 'committee notices');
  // Workflow time: the sandbox gives `Date` the current workflow task's time, replayed identically.
  const remaining = Math.max(new Date(input.decidesAt).getTime() - new Date().getTime(), 1);
  await condition(() => decision !== undefined, remaining);
  // A decision taken in the same workflow task as the timer fired still counts as that decision.
  const decided: Decision = (decision ??= { kind: 'window' });

  try {
    if (decided.kind === 'refused') {
      status = await steps.refuseMemberTransfer(step, input.transferId, decided.by, decided.reasonCode);
      if (status === 'refused') background(mailer.sendTransferEmail(step, input.transferId, 'transfer-refused'), 'refusal email');
    } else {
      status = await steps.acceptMemberTransfer(step, input.transferId, decided.kind === 'approved' ? decided.by : 'window');
      if (status === 'accepted') {
        await cards.issueIdCard(step);
        background(mailer.sendTransferEmail(step, input.transferId, 'transferred'), 'transfer email');
      }
    }
  } catch (err) {
    // The request never committed (its transaction failed after this workflow started): nothing to decide.
    if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'TRANSFER_NOT_FOUND')) throw err;
    status = 'cancelled';
  }
  await Promise.all(mailing);
  return { status };
}
