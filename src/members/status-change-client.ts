import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantContext } from '../db/tenant-context.ts';
import { MemberId, MemberStage, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import { domainErrorOf } from './lifecycle-client.ts';
import { MemberRuleError } from './member-aggregate.ts';
import type { MemberEventType } from './events.ts';
import * as c from './status-change-contract.ts';
import { loadMember } from './member-store.ts';
import * as rules from './status-change-rules.ts';
import type { StandingPosition } from './status-change-rules.ts';
import type { AfterAdmissionStageName } from './member-status.ts';

/** The event that opens each kind of change: the member's nth one is the nth change of the kind. */
const OPENING_EVENT: Record<Exclude<c.StatusChangeKind, 'resignation-link'>, MemberEventType> = {
  suspension: 'MemberSuspended',
  expulsion: 'MemberExpulsionProposed',
  resignation: 'MemberResigned',
  death: 'MemberDied',
};

/**
 * The stage a change waits in once applied, for the stuck listing (GET /api/ops/stuck-lifecycles);
 * a resignation or a death ends at once and waits in none.
 */
const WAITING_STAGE: Record<Exclude<c.StatusChangeKind, 'resignation-link'>, AfterAdmissionStageName | null> = {
  suspension: 'Suspended',
  expulsion: 'AwaitingExpulsionConfirmation',
  resignation: null,
  death: null,
};

const Count = z.object({ n: z.number().int() });

/** How many changes of the kind the member's stream holds. */
async function changesSoFar(pool: DatabasePool, context: TenantContext, memberId: string, kind: keyof typeof OPENING_EVENT): Promise<number> {
  return withTenant(pool, context, (tx) => tx.oneFirst(sql.type(Count)`
    SELECT count(*)::int AS n FROM event_store WHERE aggregate_id = ${memberId} AND event_type = ${OPENING_EVENT[kind]}`));
}

/**
 * Starts a member's status change and answers once it is recorded (Update-with-Start), as the
 * workflow `<kind>-<tenant>-<member>-<n>`, n counting the member's changes of the kind. A
 * second request while one runs under the same id is refused, never joined.
 * @throws MemberRuleError with the member rule's code (MEMBER_NOT_ACTIVE, EXPULSION_ALREADY_PROPOSED,
 *   ...), or STATUS_CHANGE_IN_PROGRESS.
 */
export async function startStatusChange(
  deps: { client: Client; pool: DatabasePool },
  context: TenantContext,
  memberId: string,
  change: Exclude<c.StatusChange, { kind: 'resignation-link' }>,
): Promise<c.AppliedResult> {
  // The rule checked here first refuses most requests without starting a workflow; the
  // aggregate checks it again when the change is recorded (a race between two requests).
  const state = await withTenant(deps.pool, context, (tx) => loadMember(tx, memberId));
  const refusal = refusalOf(change, state);
  if (refusal) throw new MemberRuleError(refusal.code, refusal.message);
  const n = (await changesSoFar(deps.pool, context, memberId, change.kind)) + 1;
  const workflowId = c.statusChangeWorkflowId(change.kind, context.tenantId, memberId, n);
  const start = new WithStartWorkflowOperation<c.StatusChangeWorkflow>(c.STATUS_CHANGE_WORKFLOW, {
    workflowId,
    taskQueue: MEMBERSHIP_TASK_QUEUE,
    args: [{ tenantId: context.tenantId, memberId, change }],
    workflowIdConflictPolicy: 'FAIL',
    // A change that was refused recorded nothing, so the next request is the same nth change.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: searchAttributes(context.tenantId, memberId, WAITING_STAGE[change.kind]),
  });
  try {
    return await deps.client.workflow.executeUpdateWithStart(c.appliedUpdate, { startWorkflowOperation: start });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw inProgress();
    throw domainErrorOf(err);
  }
}

function searchAttributes(tenantId: string, memberId: string, stage: AfterAdmissionStageName | null) {
  const ids = [{ key: TenantId, value: tenantId }, { key: MemberId, value: memberId }];
  return stage === null ? ids : [...ids, { key: MemberStage, value: stage }, { key: StageEnteredAt, value: new Date() }];
}

function refusalOf(change: Exclude<c.StatusChange, { kind: 'resignation-link' }>, state: StandingPosition) {
  switch (change.kind) {
    case 'suspension':
      return rules.activeRefusal(state, 'be suspended');
    case 'expulsion':
      return rules.proposalRefusal(state);
    case 'resignation':
      return rules.activeRefusal(state, 'resign');
    case 'death':
      return rules.deathRefusal(state);
  }
}

const inProgress = () => new MemberRuleError('STATUS_CHANGE_IN_PROGRESS', "another change of this member's status is being recorded; try again");

/**
 * Emails the member a resignation link, at most once a day (the workflow id names the day; a
 * second request that day joins or finds the first). Answers nothing about the member.
 */
export async function requestResignationLink(
  deps: { client: Client },
  tenantId: string,
  memberId: string,
  request: { expiresAt: string; linkBase: string; day: string },
): Promise<void> {
  const workflowId = c.statusChangeWorkflowId('resignation-link', tenantId, memberId, request.day);
  try {
    await deps.client.workflow.start<c.StatusChangeWorkflow>(c.STATUS_CHANGE_WORKFLOW, {
      workflowId,
      taskQueue: MEMBERSHIP_TASK_QUEUE,
      args: [{ tenantId, memberId, change: { kind: 'resignation-link', by: `member:${memberId}`, expiresAt: request.expiresAt, linkBase: request.linkBase } }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantId, value: tenantId }, { key: MemberId, value: memberId }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * Sends an Update to the member's latest change of the kind (its suspension, its expulsion
 * proposal). @throws MemberRuleError `missing` when there is none running.
 */
export async function updateLatestChange<Args extends [unknown, ...unknown[]]>(
  deps: { client: Client; pool: DatabasePool },
  context: TenantContext,
  memberId: string,
  kind: 'suspension' | 'expulsion',
  update: UpdateDefinition<c.AppliedResult, Args>,
  missing: () => MemberRuleError,
  ...args: Args
): Promise<c.AppliedResult> {
  const n = await changesSoFar(deps.pool, context, memberId, kind);
  if (n === 0) throw missing();
  try {
    return await deps.client.workflow.getHandle(c.statusChangeWorkflowId(kind, context.tenantId, memberId, n)).executeUpdate(update, { args });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw missing();
    const mapped = domainErrorOf(err);
    // The workflow has ended (the suspension is over, the proposal void): nothing runs to take it.
    if (mapped === err && /workflow execution already completed|not found/i.test(String((err as Error).message))) throw missing();
    throw mapped;
  }
}
