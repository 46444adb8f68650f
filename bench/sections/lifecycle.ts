import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { ApplicationSchema } from '../../src/members/application.ts';
import { GeographyPath, MemberId, MemberStage, StageEnteredAt, TenantId } from '../../src/temporal/search-attributes.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { LifecycleHarness } from '../../test/support/lifecycle-harness.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { ChildService } from '../../test/faults/support/child-service.ts';
import { CARDS_TASK_QUEUE, MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import * as noopActivities from '../noop/activities.ts';
import { NOOP_CARDS_QUEUE, NOOP_QUEUE } from '../noop/queues.ts';
import { approveUpdate, paymentReceivedUpdate } from '../noop/workflows.ts';
import { ratio, round, summarize, type Latency } from '../support/stats.ts';
import { cpuMsPer, cpuSnapshot, type CpuSnapshot } from '../support/process-cpu.ts';
import { temporalDataConverter } from '../../src/temporal/payload-codec.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export { NOOP_QUEUE };

/**
 * Where the card queue's worker runs: `inline`, in the bench process beside the workflow worker
 * (as one `npm run worker` runs both queues), or `process`, a worker process of its own
 * (WORKER_TASK_QUEUES=membership-cards, as docker-compose.yml's card-worker); the no-op's card
 * queue alike.
 */
export type CardWorkerPlacement = 'inline' | 'process';

/** Runs `count` jobs, `concurrency` at a time. @returns what each job returned, in the order they finished. */
async function pool<T>(count: number, concurrency: number, job: (i: number) => Promise<T>): Promise<T[]> {
  let next = 0;
  const done: T[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) done.push(await job(next++));
  }));
  return done;
}

async function realLifecycle(h: LifecycleHarness, i: number): Promise<string> {
  const application = ApplicationSchema.parse({ fullNameEn: 'Bench Member', gender: 'F', phone: `9841${String(i).padStart(6, '0')}`, email: `bench${i}@example.np`, wardId: h.geo.wardIds[0] });
  const { workflowId } = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, application);
  // The approve Update answers with the invoice (lifecycle-merged-steps): no polling for it.
  const { invoice } = await sendLifecycleUpdate(h.client, workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  if (!invoice) throw new Error(`lifecycle ${workflowId} answered its approval without an invoice`);
  await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, {
    invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'bench', providerRef: `bench-${i}`, paidAt: new Date().toISOString(),
  });
  await h.client.workflow.getHandle(workflowId).result();
  return workflowId;
}

async function noopLifecycle(h: LifecycleHarness, i: number): Promise<string> {
  // Started as the registration request starts a lifecycle: its input, memo and search attributes.
  const handle = await h.client.workflow.start('noopLifecycle', {
    workflowId: `bench-noop-${Date.now()}-${i}`, taskQueue: NOOP_QUEUE, workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'REJECT_DUPLICATE',
    args: [{ tenantId: h.tenant.id, memberId: `noop-${i}`, recorded: { registeredAt: new Date().toISOString(), committeeId: h.committeeId, geographyPath: '1.2.3', digest: 'noop' } }],
    memo: { party: h.tenant.slug, ward: h.geo.wardIds[0], stage: 'AwaitingApproval' },
    typedSearchAttributes: [
      { key: TenantId, value: h.tenant.id }, { key: MemberId, value: `noop-${i}` }, { key: MemberStage, value: 'AwaitingApproval' },
      { key: StageEnteredAt, value: new Date() }, { key: GeographyPath, value: '1.2.3' },
    ],
  });
  const { invoice } = await handle.executeUpdate(approveUpdate, { args: [{}] });
  if (!invoice) throw new Error('no-op lifecycle answered its approval without an invoice');
  await handle.executeUpdate(paymentReceivedUpdate, { args: [{}] });
  await handle.result();
  return handle.workflowId;
}

/** Workflow tasks' schedule-to-start and start-to-complete, in ms, from the workflows' histories. */
async function workflowTaskLatencies(client: Client, workflowIds: readonly string[]): Promise<{ scheduleToStart: Latency; duration: Latency }> {
  const toStart: number[] = [];
  const duration: number[] = [];
  const ms = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const at = new Map<string, number>();
    for (const event of history.events ?? []) {
      at.set(String(event.eventId), ms(event.eventTime));
      const started = event.workflowTaskStartedEventAttributes;
      if (started) toStart.push(ms(event.eventTime) - at.get(String(started.scheduledEventId))!);
      const completed = event.workflowTaskCompletedEventAttributes;
      if (completed) duration.push(ms(event.eventTime) - at.get(String(completed.startedEventId))!);
    }
  }
  const rounded = (l: Latency): Latency => ({ n: l.n, p50: round(l.p50, 1), p95: round(l.p95, 1), p99: round(l.p99, 1), mean: round(l.mean, 1) });
  return { scheduleToStart: rounded(summarize(toStart)), duration: rounded(summarize(duration)) };
}

/** The product's worker (src/worker.ts) serving the card queue only, and the no-op's card worker, each a process of its own. */
async function cardWorkerProcesses(h: LifecycleHarness, masterKeyBase64: string): Promise<ChildService[]> {
  const dir = await mkdtemp(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'bench-card-worker-'));
  const env = {
    ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: h.db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!, SMTP_URL: h.smtp.url,
    MAIL_FROM: 'Test Party <members@party.test>', PUBLIC_BASE_URL: 'https://members.test', MASTER_KEY: masterKeyBase64, DATA_DIR: dir, STORAGE_DIR: path.join(dir, 'storage'),
  };
  const product = new ChildService('card-worker', 'src/worker.ts', { ...env, WORKER_TASK_QUEUES: CARDS_TASK_QUEUE });
  const noop = new ChildService('noop-card-worker', 'bench/noop/card-worker.ts', env);
  await Promise.all([product.start(/"msg":"worker started"/), noop.start(/"msg":"worker started"/)]);
  return [product, noop];
}

/**
 * Complete lifecycles per second, end to end, against a no-op workflow of the same shape on
 * the same Temporal server. The harness's product worker must be running. After an untimed
 * warm-up of each, the two alternate in rounds (real, no-op, real, no-op, ...), so that the
 * machine's drift over the run, which on a shared machine is larger than the difference being
 * measured, falls on both alike; each round's own ratio is reported too, as the spread.
 */
export async function benchLifecycles(h: ApiHarness, count: number, concurrency: number, options: { rounds?: number; cardWorker?: CardWorkerPlacement; masterKeyBase64: string }) {
  const rounds = options.rounds ?? 4;
  const placement = options.cardWorker ?? 'inline';
  if (placement === 'inline') return measure(h, count, concurrency, rounds, placement);
  // The harness's worker replaced by one serving the membership queue only, the card queue served by a process of its own.
  return h.withoutWorker(async () => {
    const children = await cardWorkerProcesses(h, options.masterKeyBase64);
    const { worker, running } = await h.startWorker({ queues: [MEMBERSHIP_TASK_QUEUE] });
    try {
      return await measure(h, count, concurrency, rounds, placement);
    } finally {
      worker.shutdown();
      await running;
      await Promise.all(children.map((child) => child.stop(10_000)));
    }
  });
}

async function measure(h: LifecycleHarness, count: number, concurrency: number, rounds: number, placement: CardWorkerPlacement) {
  const connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(here, '..', 'noop', 'workflows.ts') });
  // The harness's client encrypts every payload: the no-op worker decodes them with the same codec (and pays for it, as the product's worker does).
  const noop = await Worker.create({ connection, taskQueue: NOOP_QUEUE, workflowBundle: bundle, activities: noopActivities, dataConverter: temporalDataConverter(h.codec) });
  // Inline, the no-op's card queue is served in this process as the product's is; otherwise by its own process.
  const noopCards = placement === 'inline' ? await Worker.create({ connection, taskQueue: NOOP_CARDS_QUEUE, activities: noopActivities, dataConverter: temporalDataConverter(h.codec) }) : undefined;
  const perRound = Math.ceil(count / rounds);
  const warmUpFrom = perRound * rounds;
  const cpu = { real: { bench: 0, temporal: 0, postgres: 0, workers: 0 }, noop: { bench: 0, temporal: 0, postgres: 0, workers: 0 } };
  const add = (sum: CpuSnapshot, from: CpuSnapshot, to: CpuSnapshot) => {
    for (const key of Object.keys(sum) as (keyof CpuSnapshot)[]) sum[key] += to[key] - from[key];
  };
  // Wall seconds of one round of one kind, and the CPU every process of the run spent meanwhile.
  const timed = async (kind: 'real' | 'noop', run: () => Promise<string[]>) => {
    const cpuBefore = cpuSnapshot();
    const start = performance.now();
    ids[kind].push(...await run());
    const seconds = (performance.now() - start) / 1000;
    add(cpu[kind], cpuBefore, cpuSnapshot());
    return seconds;
  };
  const ids = { real: [] as string[], noop: [] as string[] };
  const seconds: { real: number; noop: number }[] = [];
  const body = async () => {
    // Warm-up, not timed: the first lifecycles pay for JIT compilation, the card's fonts and
    // cold caches, and the real workflow would otherwise pay it alone.
    await pool(concurrency, concurrency, (i) => realLifecycle(h, warmUpFrom + i));
    await pool(concurrency, concurrency, (i) => noopLifecycle(h, warmUpFrom + i));
    for (let index = 0; index < rounds; index++) {
      const offset = index * perRound;
      seconds.push({
        real: await timed('real', () => pool(perRound, concurrency, (i) => realLifecycle(h, offset + i))),
        noop: await timed('noop', () => pool(perRound, concurrency, (i) => noopLifecycle(h, offset + i))),
      });
    }
  };
  await (noopCards ? noopCards.runUntil(() => noop.runUntil(body)) : noop.runUntil(body));
  await connection.close();
  // Untimed, after the rounds: how long the workflow tasks of the timed lifecycles waited and ran.
  const workflowTasks = { real: await workflowTaskLatencies(h.client, ids.real), noop: await workflowTaskLatencies(h.client, ids.noop) };

  const total = perRound * rounds;
  const zero: CpuSnapshot = { bench: 0, temporal: 0, postgres: 0, workers: 0 };
  const real = total / seconds.reduce((sum, r) => sum + r.real, 0);
  const baseline = total / seconds.reduce((sum, r) => sum + r.noop, 0);
  return {
    count: total, concurrency, rounds, cardWorker: placement,
    lifecyclesPerSecond: round(real), noopPerSecond: round(baseline), ratio: ratio(real, baseline),
    roundRatios: seconds.map((r) => ratio(r.noop, r.real)),
    // Where a lifecycle's CPU goes: this process (worker, activities, client, codec), the Temporal server, Postgres.
    cpuMsPerLifecycle: { real: cpuMsPer(zero, cpu.real, total), noop: cpuMsPer(zero, cpu.noop, total) },
    workflowTasks,
  };
}
