import { randomBytes, randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { DatabasePool } from 'slonik';
import { derivedUuid } from '../crypto/derived-uuid.ts';
import { purposeMac } from '../crypto/keyed-mac.ts';
import { withTenant, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import type { DomainError, DomainErrorOptions } from '../errors/domain-error.ts';
import type { ErrorCode } from '../errors/error-codes.ts';
import { fromFailure } from '../errors/temporal-failure.ts';
import { MemberStage, MemberId, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import type { Keyring, TenantKeys } from '../tenants/keyring.ts';
import type { Application } from './application.ts';
import { MemberRuleError } from './member-aggregate.ts';
import { findRegistration } from './member-queries.ts';
import { UnknownWardError } from './member-repository.ts';
import { findRefusal } from './registration-refusals.ts';
import * as m from './lifecycle-contract.ts';
import { sealApplication, type SealedApplication } from './sealed-application.ts';

export interface Registered extends m.RegisterResult {
  memberId: string;
  workflowId: string;
  /** The secret of the applicant's status link; only its hash is stored. */
  statusToken: string;
}

/** The member error a lifecycle's refusal stands for, by its code. */
function memberError(code: ErrorCode, message: string, options: DomainErrorOptions): DomainError {
  if (code === 'UNKNOWN_WARD') return new UnknownWardError(message, options);
  return new MemberRuleError(code, message, options);
}

/** Turns a workflow's business refusal back into the domain error it stands for. */
export function domainErrorOf(err: unknown): unknown {
  return fromFailure(err, memberError);
}

/**
 * Starts the applicant's lifecycle and answers once the application is taken (Update-with-Start):
 * recorded, or, when its phone or email already belongs to someone in the party, refused, with
 * the same answer either way (the holder is told through their own contact; the status link
 * shows either as pending). Personal fields are sealed before they leave this process.
 *
 * With an idempotency key the member id and status link derive from the party and the key, so
 * a repeat of the request gets the same member and link.
 * @throws UnknownWardError; MemberRuleError IDEMPOTENCY_KEY_REUSED (another application under
 *   the key), REGISTRATION_FAILED, INVALID_DATA.
 */
export async function registerApplicant(
  deps: { client: Client; pool: DatabasePool; keyring: Keyring },
  tenantId: string,
  application: Application,
  options: {
    idempotencyKey?: string | undefined; ip?: string | undefined; userAgent?: string | undefined;
    /** Runs in the transaction that seals the application, before its lifecycle starts (e.g. to record the applicant's consent). */
    beforeStart?: (tx: TenantTransaction, memberId: string) => Promise<void>;
    /** The party's slug, for the lifecycle's memo (its id otherwise). */
    partySlug?: string | undefined;
  } = {},
): Promise<Registered> {
  const { idempotencyKey, beforeStart, partySlug, ...audit } = options;
  const memo = { party: partySlug };
  const { memberId, statusToken, sealed } = await withTenant(deps.pool, { tenantId, actor: 'applicant', ...audit }, async (tx) => {
    const keys = await deps.keyring.forTenant(tx, tenantId);
    const memberId = idempotencyKey === undefined ? randomUUID() : keyedMemberId(tenantId, idempotencyKey);
    const statusToken = idempotencyKey === undefined ? randomBytes(24).toString('base64url') : keyedStatusToken(keys, memberId);
    await beforeStart?.(tx, memberId);
    return { memberId, statusToken, sealed: sealApplication(keys, memberId, application, statusToken) };
  });
  const workflowId = m.memberWorkflowId(tenantId, memberId);
  const start = new WithStartWorkflowOperation<m.MemberLifecycleWorkflow>(m.MEMBER_LIFECYCLE_WORKFLOW, {
    workflowId,
    taskQueue: MEMBERSHIP_TASK_QUEUE,
    args: [{ tenantId, memberId }],
    // A repeat under the same key joins the running lifecycle; one that has ended is never started again.
    workflowIdConflictPolicy: idempotencyKey === undefined ? 'FAIL' : 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    // Whose lifecycle a row is, for an operator (Temporal UI, CLI): the party, the ward, the stage. No personal data.
    memo: { party: memo.party ?? tenantId, ward: application.wardId, stage: 'Registered' },
    typedSearchAttributes: [
      { key: TenantId, value: tenantId },
      { key: MemberId, value: memberId },
      { key: MemberStage, value: 'Registered' },
      { key: StageEnteredAt, value: new Date() },
    ],
  });
  try {
    const result = await deps.client.workflow.executeUpdateWithStart(m.registerUpdate, { args: [sealed], startWorkflowOperation: start });
    return { memberId, workflowId, statusToken, ...result };
  } catch (err) {
    if (idempotencyKey !== undefined && err instanceof WorkflowExecutionAlreadyStartedError) {
      return { ...(await registeredEarlier(deps, { tenantId, actor: 'applicant', ...audit }, sealed, workflowId)), memberId, workflowId, statusToken };
    }
    throw domainErrorOf(err);
  }
}

/**
 * A repeat the start was refused for (its lifecycle exists): the application it recorded or
 * refused, if it is this one; else the running lifecycle's own answer to it.
 * @throws MemberRuleError IDEMPOTENCY_KEY_REUSED
 */
async function registeredEarlier(deps: { client: Client; pool: DatabasePool }, context: TenantContext, sealed: SealedApplication, workflowId: string): Promise<m.RegisterResult> {
  const taken = await takenEarlier(deps.pool, context, sealed);
  if (taken) return taken;
  try {
    return await deps.client.workflow.getHandle(workflowId).executeUpdate(m.registerUpdate, { args: [sealed] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw keyReused();
    throw domainErrorOf(err);
  }
}

const keyReused = () => new MemberRuleError('IDEMPOTENCY_KEY_REUSED', m.IDEMPOTENCY_KEY_REUSED_MESSAGE);

/**
 * What a lifecycle under this key recorded or refused, as register answered it then; null when
 * it has recorded nothing (yet).
 * @throws MemberRuleError IDEMPOTENCY_KEY_REUSED when that was another application.
 */
async function takenEarlier(pool: DatabasePool, context: TenantContext, sealed: SealedApplication): Promise<m.RegisterResult | null> {
  const earlier = await withTenant(pool, context, async (tx) => {
    const member = await findRegistration(tx, sealed.memberId);
    if (member) return { digest: member.applicationDigest, registeredAt: member.registeredAt, committeeId: member.committeeId, stage: 'AwaitingApproval' as const };
    const refusal = await findRefusal(tx, sealed.memberId);
    return refusal && { digest: refusal.applicationDigest, registeredAt: refusal.refusedAt, committeeId: refusal.committeeId, stage: 'RegistrationRefused' as const };
  });
  if (!earlier) return null;
  if (!earlier.digest || earlier.digest.toString('hex') !== sealed.digest) throw keyReused();
  return { stage: earlier.stage, registeredAt: new Date(earlier.registeredAt).toISOString(), committeeId: earlier.committeeId };
}

/** The member id of a keyed registration: the same party and key name the same member. */
function keyedMemberId(tenantId: string, idempotencyKey: string): string {
  return derivedUuid(`member-id:${tenantId}:${idempotencyKey}`);
}

/** The status-link secret of a keyed registration: only the party's keys can derive it. */
function keyedStatusToken(keys: TenantKeys, memberId: string): string {
  return purposeMac(keys.registrationKey, 'status-token', memberId).toString('base64url');
}

/** Sends a lifecycle message as an Update and maps a refusal to the domain error it stands for. */
export async function sendLifecycleUpdate<Result extends m.MessageResult, Args extends [unknown, ...unknown[]]>(
  client: Client,
  workflowId: string,
  update: UpdateDefinition<Result, Args>,
  ...args: Args
): Promise<Result> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(update, { args });
  } catch (err) {
    throw domainErrorOf(err);
  }
}
