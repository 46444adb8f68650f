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

/** Records the lifecycle to start, in the transaction that records its application. */
export async function recordLifecycleStart(tx: TenantTransaction, start: LifecycleStart): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO lifecycle_starts (tenant_id, member_id, workflow_id, ward_id, recorded)
    VALUES (${start.tenantId}, ${start.memberId}, ${start.workflowId}, ${start.wardId}, ${sql.jsonb(JSON.parse(JSON.stringify(start.recorded)) as SerializableValue)})
    ON CONFLICT (tenant_id, member_id) DO NOTHING`);
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

/** The row is done with: Temporal holds the lifecycle. */
export async function markLifecycleStarted(pool: DatabasePool, start: Pick<LifecycleStart, 'tenantId' | 'memberId'>): Promise<void> {
  await withTenant(pool, { tenantId: start.tenantId, actor: 'system:lifecycle-starts' }, (tx) =>
    tx.query(sql.unsafe`UPDATE lifecycle_starts SET started_at = now() WHERE member_id = ${start.memberId} AND started_at IS NULL`));
}

const StartRow = z.object({
  tenantId: z.string(), memberId: z.string(), workflowId: z.string(), wardId: z.string(),
  recorded: z.custom<m.RecordedApplication>((value) => typeof value === 'object' && value !== null),
});

/**
 * Starts every lifecycle recorded at least `olderThanMs` ago and not started yet (its process
 * died, or Temporal was unreachable, between the commit and the start), party by party.
 * @returns how many it started (those found running already are not counted).
 */
export async function relayLifecycleStarts(deps: { client: Client; pool: DatabasePool; log?: Logger }, options: { olderThanMs: number; batch?: number }): Promise<number> {
  let started = 0;
  for (const party of await listTenants(deps.pool)) {
    const context = { tenantId: party.id, actor: 'system:lifecycle-starts' };
    const due = await withTenant(deps.pool, context, (tx) => tx.any(sql.type(StartRow)`
      SELECT tenant_id AS "tenantId", member_id AS "memberId", workflow_id AS "workflowId", ward_id AS "wardId", recorded
      FROM lifecycle_starts WHERE started_at IS NULL AND created_at < now() - make_interval(secs => ${options.olderThanMs / 1000})
      ORDER BY created_at LIMIT ${options.batch ?? 500}`));
    for (const start of due) {
      if (await startRecordedLifecycle(deps.client, start, party.slug) === 'started') started++;
      await markLifecycleStarted(deps.pool, start);
    }
  }
  if (started > 0) deps.log?.warn({ started }, 'lifecycle starts relayed: registrations whose lifecycle the request could not start');
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
