import { randomBytes, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { DatabasePool } from 'slonik';
import { derivedUuid } from '../crypto/derived-uuid.ts';
import { purposeMac } from '../crypto/keyed-mac.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import type { ErrorCode } from '../errors/error-codes.ts';
import { fromFailure } from '../errors/temporal-failure.ts';
import type { Logger } from '../logger.ts';
import { withTenantKeys, type Keyring, type TenantKeys } from '../tenants/keyring.ts';
import type { Application } from './application.ts';
import { recordApplication } from './application-record.ts';
import { recordLifecycleStart, startAfterCommit, startRecordedIfWaiting, type AfterCommitStarts, type LifecycleStart } from './lifecycle-starts.ts';
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
 * Records the application and starts its lifecycle. One tenant transaction writes the member
 * row (or, when its phone or email already belongs to someone in the party, the refusal), its
 * MemberRegistered event, the applicant's consent (`beforeStart`) and the lifecycle to start
 * (src/members/lifecycle-starts.ts); after the commit the lifecycle is started with the
 * recorded application as its input. With `deps.starts` (the API) the caller is answered once
 * the application is committed and the start runs after, off the answer's path; without it the
 * call waits for the start, at most START_ON_REQUEST_TIMEOUT_MS. Either way the application is
 * durable once committed, a lifecycle this process could not start (Temporal unreachable, or the
 * process died) is started by the relay, and a message reaching a lifecycle before its start
 * starts it (sendLifecycleUpdate). Both outcomes are answered the same (the holder of a taken
 * contact is told through their own; the status link shows either as pending). Personal fields
 * are sealed in this process.
 *
 * With an idempotency key the member id and status link derive from the party and the key, so
 * a repeat of the request gets the same member and link.
 * @throws UnknownWardError; MemberRuleError IDEMPOTENCY_KEY_REUSED (another application under
 *   the key), INVALID_DATA.
 */
export async function registerApplicant<Described = undefined>(
  deps: { client: Client; pool: DatabasePool; keyring: Keyring; log?: Logger; starts?: AfterCommitStarts | undefined },
  tenantId: string,
  application: Application,
  options: {
    idempotencyKey?: string | undefined; ip?: string | undefined; userAgent?: string | undefined;
    /** Runs in the transaction that records the application (e.g. to record the applicant's consent). */
    beforeStart?: (tx: TenantTransaction, memberId: string) => Promise<void>;
    /** The party's slug, for the lifecycle's memo (its id otherwise). */
    partySlug?: string | undefined;
    /** When the application was taken; now by default. */
    at?: Date;
    /** Runs last in the same transaction, with where the application went (e.g. to name its ward and committee in the answer). */
    describe?: (tx: TenantTransaction, recorded: { committeeId: string | null }) => Promise<Described>;
  } = {},
): Promise<Registered & { described?: Described; recordedNow: boolean }> {
  const { idempotencyKey, beforeStart, partySlug, at, describe, ...audit } = options;
  const registeredAt = (at ?? new Date()).toISOString();
  const taken = await withTenantKeys(deps.pool, deps.keyring, { tenantId, actor: 'applicant', ...audit }, async (tx, keys) => {
    const memberId = idempotencyKey === undefined ? randomUUID() : keyedMemberId(tenantId, idempotencyKey);
    const statusToken = idempotencyKey === undefined ? randomBytes(24).toString('base64url') : keyedStatusToken(keys, memberId);
    const workflowId = m.memberWorkflowId(tenantId, memberId);
    await beforeStart?.(tx, memberId);
    const sealed = sealApplication(keys, memberId, application, statusToken);
    const earlier = idempotencyKey === undefined ? null : await takenEarlier(tx, sealed);
    if (earlier) return { memberId, workflowId, statusToken, result: earlier, start: null, described: await describe?.(tx, earlier) };
    const command = { tenantId, memberId, metadata: { actor: 'applicant', workflowId }, idempotencyKey: `${workflowId}:register` };
    // Before the event is appended (its trigger holds the party's chain-head lock to the commit): the outbox row, the answer, its description.
    const alongside = async (recorded: m.RegistrationResult & { registeredAt: string }) => {
      const start: LifecycleStart = { tenantId, memberId, workflowId, wardId: application.wardId, recorded: { ...recorded, digest: sealed.digest } };
      // A repeat under the same key may have raced this one to the row: then the answer is what was
      // recorded (its time included), it must have been the same application, and the lifecycle
      // starts from the start the first one recorded (its request's, or the relay's), not this one.
      const own = await recordLifecycleStart(tx, start);
      const result: m.RegisterResult = (idempotencyKey === undefined ? null : await takenEarlier(tx, sealed))
        ?? { stage: recorded.refusal ? 'RegistrationRefused' : 'AwaitingApproval', registeredAt, committeeId: recorded.committeeId };
      return { memberId, workflowId, statusToken, result, start: own ? start : null, described: await describe?.(tx, recorded) };
    };
    let answer: Awaited<ReturnType<typeof alongside>> | undefined;
    await recordApplication(tx, sealed, { workflowId, registeredAt, command, alongside: async (recorded) => { answer = await alongside(recorded); } });
    if (!answer) throw new Error('unreachable: recordApplication runs alongside once');
    return answer;
  });
  if (taken.start && deps.starts) deps.starts.add(taken.start, partySlug ?? tenantId);
  else if (taken.start) await startAfterCommit(deps, taken.start, partySlug ?? tenantId);
  return {
    memberId: taken.memberId, workflowId: taken.workflowId, statusToken: taken.statusToken, ...taken.result,
    ...(taken.described === undefined ? {} : { described: taken.described }),
    // This call recorded the application (or its refusal), as opposed to answering a repeat of one.
    recordedNow: taken.start !== null,
  };
}

const keyReused = () => new MemberRuleError('IDEMPOTENCY_KEY_REUSED', m.IDEMPOTENCY_KEY_REUSED_MESSAGE);

/**
 * What a registration under this key recorded or refused, as it was answered then; null when
 * nothing is recorded under it.
 * @throws MemberRuleError IDEMPOTENCY_KEY_REUSED when that was another application.
 */
async function takenEarlier(tx: TenantTransaction, sealed: SealedApplication): Promise<m.RegisterResult | null> {
  const member = await findRegistration(tx, sealed.memberId);
  const refusal = member ? null : await findRefusal(tx, sealed.memberId);
  const earlier = member
    ? { digest: member.applicationDigest, registeredAt: member.registeredAt, committeeId: member.committeeId, stage: 'AwaitingApproval' as const }
    : refusal && { digest: refusal.applicationDigest, registeredAt: refusal.refusedAt, committeeId: refusal.committeeId, stage: 'RegistrationRefused' as const };
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

/** Whether Temporal holds the workflow (running or ended), as opposed to never having started it. */
async function lifecycleExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Where a lifecycle message goes: with the database, a lifecycle whose start is recorded and not made yet is started first. */
export interface LifecycleTarget { client: Client; pool: DatabasePool; tenantId: string; log?: Logger | undefined }

/**
 * Sends a lifecycle message as an Update and maps a refusal to the domain error it stands for.
 * Given a LifecycleTarget, a lifecycle Temporal does not hold yet whose registration recorded its
 * start (the request answered before starting it, or the relay has not come by) is started from
 * that record, once by its workflow id, and then takes the message: a head approving right after
 * the applicant's answer is served. Otherwise (a Client alone, or no recorded start) it answers
 * TEMPORAL_UNAVAILABLE, to try again shortly.
 */
export async function sendLifecycleUpdate<Result extends m.MessageResult, Args extends [unknown, ...unknown[]]>(
  to: Client | LifecycleTarget,
  workflowId: string,
  update: UpdateDefinition<Result, Args>,
  ...args: Args
): Promise<Result> {
  const client = 'pool' in to ? to.client : to;
  const send = () => client.workflow.getHandle(workflowId).executeUpdate(update, { args });
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError) || await lifecycleExists(client, workflowId)) throw domainErrorOf(err);
  }
  // Not in Temporal: its start is recorded and not made yet, or (a Client alone) it may be.
  try {
    // Or it was started (by the request or the relay) since the first answer: then it takes the message too.
    if (('pool' in to && await startRecordedIfWaiting(to, to.tenantId, workflowId)) || await lifecycleExists(client, workflowId)) return await send();
  } catch (err) {
    throw domainErrorOf(err);
  }
  throw new DomainError('TEMPORAL_UNAVAILABLE', "the member's lifecycle has not started yet; try again shortly");
}
