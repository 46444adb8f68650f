import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { sql, type DatabasePool, type SerializableValue } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../db/tenant-context.ts';
import type { Logger } from '../logger.ts';
import { GeographyPath, MemberId, MemberStage, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import { listTenants } from '../tenants/tenants.ts';
import * as m from './lifecycle-contract.ts';

/**
 * A lifecycle to start: written by the registration request in the transaction that records the
 * application (the outbox row), marked started once Temporal has the lifecycle. No personal data.
 */
export interface LifecycleStart {
  tenantId: string;
  memberId: string;
  workflowId: string;
  wardId: string;
  recorded: m.RecordedApplication;
}

/** How long the registration request waits for Temporal to take its lifecycle before leaving it to the relay. */
export const START_ON_REQUEST_TIMEOUT_MS = 2_000;

/**
 * Records the lifecycle to start, in the transaction that records its application.
 * @returns false when a start is recorded for the member already (a concurrent repeat under the
 *   same idempotency key recorded its own first): that one, not this one, is the lifecycle's input.
 */
export async function recordLifecycleStart(tx: TenantTransaction, start: LifecycleStart): Promise<boolean> {
  const inserted = await tx.query(sql.unsafe`
    INSERT INTO lifecycle_starts (tenant_id, member_id, workflow_id, ward_id, recorded)
    VALUES (${start.tenantId}, ${start.memberId}, ${start.workflowId}, ${start.wardId}, ${sql.jsonb(JSON.parse(JSON.stringify(start.recorded)) as SerializableValue)})
    ON CONFLICT (tenant_id, member_id) DO NOTHING`);
  return inserted.rowCount === 1;
}

/**
 * Starts the recorded lifecycle (or finds it started: by the request, the relay, or a lifecycle
 * that has ended since). Its search attributes are those of the recorded stage.
 */
export async function startRecordedLifecycle(client: Client, start: LifecycleStart, party: string): Promise<'started' | 'existed'> {
  const stage: m.MemberStageName = start.recorded.refusal ? 'RegistrationRefused' : 'AwaitingApproval';
  try {
    await client.workflow.start<m.MemberLifecycleWorkflow>(m.MEMBER_LIFECYCLE_WORKFLOW, {
      workflowId: start.workflowId,
      taskQueue: MEMBERSHIP_TASK_QUEUE,
      args: [{ tenantId: start.tenantId, memberId: start.memberId, recorded: start.recorded }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // Whose lifecycle a row is, for an operator (Temporal UI, CLI): the party, the ward, the stage. No personal data.
      memo: { party, ward: start.wardId, stage },
      typedSearchAttributes: [
        { key: TenantId, value: start.tenantId },
        { key: MemberId, value: start.memberId },
        { key: MemberStage, value: stage },
        { key: StageEnteredAt, value: new Date(start.recorded.registeredAt) },
        ...(start.recorded.refusal ? [] : [{ key: GeographyPath, value: start.recorded.geographyPath }]),
      ],
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'existed';
    throw err;
  }
}

/**
 * Starts the lifecycle just recorded, after its registration committed, if Temporal takes it
 * within START_ON_REQUEST_TIMEOUT_MS; a lifecycle not started (Temporal unreachable) is logged and
 * left to the relay. Never throws.
 */
export async function startAfterCommit(deps: { client: Client; pool: DatabasePool; log?: Logger | undefined }, start: LifecycleStart, party: string): Promise<void> {
  try {
    await deps.client.withDeadline(Date.now() + START_ON_REQUEST_TIMEOUT_MS, () => startRecordedLifecycle(deps.client, start, party));
  } catch (err) {
    deps.log?.warn({ err, workflowId: start.workflowId }, 'lifecycle not started on registration; the relay will start it');
    return;
  }
  // A row left unmarked is found started by the relay and marked then.
  await markLifecycleStarted(deps.pool, start.tenantId, [start.memberId]).catch((err: unknown) => deps.log?.warn({ err, workflowId: start.workflowId }, 'lifecycle start not marked started'));
}

/** How many starts after the answer one process keeps under way at most (see AfterCommitStarts). */
export const AFTER_COMMIT_STARTS_IN_FLIGHT = 128;

/**
 * The lifecycles this process starts after their registrations were answered: the answer waits
 * for the commit only, and each start runs on its own (startAfterCommit). `drain` waits for the
 * starts under way (the API's shutdown, before it closes its Temporal connection); one the process
 * never made is the relay's. `hold` runs before each start: a test holds starts back with it.
 *
 * At most `maxInFlight` starts are under way at once. While Temporal is slow each start waits up
 * to START_ON_REQUEST_TIMEOUT_MS, so without a bound the starts under way would grow with the
 * request rate (and each would then take a pool connection to mark its row, beside the requests'
 * transactions). A start beyond the bound is not made here: its row is committed, so the relay
 * starts it (or a decision reaching the lifecycle first does), as after a crash.
 */
export class AfterCommitStarts {
  readonly #pending = new Set<Promise<void>>();
  readonly #deps: { client: Client; pool: DatabasePool; log?: Logger | undefined };
  readonly #hold: ((start: LifecycleStart) => Promise<void>) | undefined;
  readonly #maxInFlight: number;
  /** Starts left to the relay since the last time the bound was reached from below (logged once per such burst). */
  #leftToRelay = 0;

  constructor(deps: { client: Client; pool: DatabasePool; log?: Logger | undefined }, options: { hold?: (start: LifecycleStart) => Promise<void>; maxInFlight?: number } = {}) {
    this.#deps = deps;
    this.#hold = options.hold;
    this.#maxInFlight = options.maxInFlight ?? AFTER_COMMIT_STARTS_IN_FLIGHT;
  }

  /**
   * Starts the recorded lifecycle without making the caller wait for it.
   * @returns false when the bound was reached and the start is left to the relay.
   */
  add(start: LifecycleStart, party: string): boolean {
    if (this.#pending.size >= this.#maxInFlight) {
      if (this.#leftToRelay++ === 0) {
        this.#deps.log?.warn({ inFlight: this.#pending.size, workflowId: start.workflowId }, 'lifecycle starts at their bound; further ones are left to the relay until one finishes');
      }
      return false;
    }
    if (this.#leftToRelay > 0) {
      this.#deps.log?.info({ leftToRelay: this.#leftToRelay }, 'lifecycle starts below their bound again');
      this.#leftToRelay = 0;
    }
    const run = (async () => {
      await this.#hold?.(start);
      await startAfterCommit(this.#deps, start, party);
    })().catch((err: unknown) => this.#deps.log?.warn({ err, workflowId: start.workflowId }, 'lifecycle not started on registration; the relay will start it'))
      .finally(() => this.#pending.delete(run));
    this.#pending.add(run);
    return true;
  }

  /** The starts under way. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Waits for the starts under way. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

const RecordedStartRow = z.object({
  tenantId: z.string(), memberId: z.string(), workflowId: z.string(), wardId: z.string(), party: z.string(),
  recorded: z.custom<m.RecordedApplication>((value) => typeof value === 'object' && value !== null),
});

/**
 * Starts the lifecycle of this workflow id from its recorded start when the registration
 * recorded one that is not started yet: a message reaching a lifecycle before the start that
 * follows its registration's answer (or before the relay's). Idempotent by workflow id, so it may
 * race the request's start and the relay's.
 * @returns whether there was such a start (the lifecycle is in Temporal now).
 */
export async function startRecordedIfWaiting(deps: { client: Client; pool: DatabasePool; log?: Logger | undefined }, tenantId: string, workflowId: string): Promise<boolean> {
  // A member's lifecycle is named by its party and member (a renewal's, say, has no recorded start).
  const prefix = m.memberWorkflowId(tenantId, '');
  const memberId = workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : '';
  if (!z.uuid().safeParse(memberId).success) return false;
  // Only a row not started yet: a started one whose lifecycle Temporal no longer holds has ended, and is not started again.
  const row = await withTenant(deps.pool, { tenantId, actor: 'system:lifecycle-starts' }, (tx) => tx.maybeOne(sql.type(RecordedStartRow)`
    SELECT s.tenant_id AS "tenantId", s.member_id AS "memberId", s.workflow_id AS "workflowId", s.ward_id AS "wardId", s.recorded, t.slug AS party
    FROM lifecycle_starts s JOIN tenants t ON t.id = s.tenant_id
    WHERE s.member_id = ${memberId} AND s.workflow_id = ${workflowId} AND s.started_at IS NULL`));
  if (!row) return false;
  const { party, ...start } = row;
  await startRecordedLifecycle(deps.client, start, party);
  await markLifecycleStarted(deps.pool, start.tenantId, [start.memberId]).catch((err: unknown) => deps.log?.warn({ err, workflowId }, 'lifecycle start not marked started'));
  return true;
}

/** The rows are done with: Temporal holds these members' lifecycles (one party's). One statement however many. */
export async function markLifecycleStarted(pool: DatabasePool, tenantId: string, memberIds: readonly string[]): Promise<void> {
  await withTenant(pool, { tenantId, actor: 'system:lifecycle-starts' }, (tx) =>
    tx.query(sql.unsafe`UPDATE lifecycle_starts SET started_at = now() WHERE member_id = ANY(${sql.array([...memberIds], 'uuid')}) AND started_at IS NULL`));
}

/** Starts the relay has in flight at once. */
const RELAY_CONCURRENCY = 16;

const StartRow = z.object({
  tenantId: z.string(), memberId: z.string(), workflowId: z.string(), wardId: z.string(),
  recorded: z.custom<m.RecordedApplication>((value) => typeof value === 'object' && value !== null),
});

/**
 * Starts every lifecycle recorded at least `olderThanMs` ago and not started yet (its process
 * died, or Temporal was unreachable, between the commit and the start), party by party,
 * `concurrency` at a time (a burst whose starts all timed out leaves hundreds at once). The rows
 * started are marked in one statement per chunk, so a chunk holds one pool connection, not one
 * per start. A start that fails is logged and its row left for the next pass; a chunk in which
 * every start failed (Temporal unreachable, most likely) ends that party's turn, and the other
 * parties still get theirs.
 * @returns how many it started (those found running already are not counted).
 * @throws AggregateError of the failed starts, once every party had its turn.
 */
export async function relayLifecycleStarts(deps: { client: Client; pool: DatabasePool; log?: Logger }, options: { olderThanMs: number; batch?: number; concurrency?: number }): Promise<number> {
  const concurrency = Math.max(1, options.concurrency ?? RELAY_CONCURRENCY);
  let started = 0;
  const failures: unknown[] = [];
  for (const party of await listTenants(deps.pool)) {
    const context = { tenantId: party.id, actor: 'system:lifecycle-starts' };
    const due = await withTenant(deps.pool, context, (tx) => tx.any(sql.type(StartRow)`
      SELECT tenant_id AS "tenantId", member_id AS "memberId", workflow_id AS "workflowId", ward_id AS "wardId", recorded
      FROM lifecycle_starts WHERE started_at IS NULL AND created_at < now() - make_interval(secs => ${options.olderThanMs / 1000})
      ORDER BY created_at LIMIT ${options.batch ?? 500}`));
    for (let i = 0; i < due.length; i += concurrency) {
      const chunk = due.slice(i, i + concurrency);
      const results = await Promise.allSettled(chunk.map((start) => startRecordedLifecycle(deps.client, start, party.slug)));
      const done = chunk.filter((_start, k) => results[k]!.status === 'fulfilled');
      if (done.length > 0) await markLifecycleStarted(deps.pool, party.id, done.map((start) => start.memberId));
      started += results.filter((r) => r.status === 'fulfilled' && r.value === 'started').length;
      results.forEach((result, k) => {
        if (result.status === 'fulfilled') return;
        failures.push(result.reason);
        deps.log?.warn({ err: result.reason, workflowId: chunk[k]!.workflowId }, 'lifecycle start not relayed; the next pass tries again');
      });
      if (done.length === 0) break;
    }
  }
  if (started > 0) deps.log?.warn({ started }, 'lifecycle starts relayed: registrations whose lifecycle the request could not start');
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} lifecycle starts not relayed (${started} relayed)`);
  return started;
}

/**
 * Runs the relay every `intervalMs` until stopped. A failed pass (Temporal or the database
 * unreachable) is logged and the next pass tries again.
 */
export function runLifecycleStartRelay(deps: { client: Client; pool: DatabasePool; log: Logger }, options: { intervalMs: number; olderThanMs: number }): { stop(): Promise<void> } {
  let pass: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    // A pass still running (a long outage) is not joined by another.
    pass ??= relayLifecycleStarts(deps, options)
      .catch((err: unknown) => deps.log.warn({ err }, 'lifecycle start relay pass failed'))
      .finally(() => { pass = null; });
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await pass;
    },
  };
}
