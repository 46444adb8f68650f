import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { ApplicationSchema } from '../../src/members/application.ts';
import { GeographyPath, MemberId, MemberStage, StageEnteredAt, TenantId } from '../../src/temporal/search-attributes.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { LifecycleHarness } from '../../test/support/lifecycle-harness.ts';
import * as noopActivities from '../noop/activities.ts';
import { approveUpdate, paymentReceivedUpdate } from '../noop/workflows.ts';
import { ratio, round } from '../support/stats.ts';
import { cpuMsPer, cpuSnapshot, type CpuSnapshot } from '../support/process-cpu.ts';
import { temporalDataConverter } from '../../src/temporal/payload-codec.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const NOOP_QUEUE = 'bench-noop-lifecycle';

async function pool<T>(count: number, concurrency: number, job: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await job(next++);
  }));
}

async function realLifecycle(h: LifecycleHarness, i: number): Promise<void> {
  const application = ApplicationSchema.parse({ fullNameEn: 'Bench Member', gender: 'F', phone: `9841${String(i).padStart(6, '0')}`, email: `bench${i}@example.np`, wardId: h.geo.wardIds[0] });
  const { workflowId } = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, application);
  // The approve Update answers with the invoice (lifecycle-merged-steps): no polling for it.
  const { invoice } = await sendLifecycleUpdate(h.client, workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  if (!invoice) throw new Error(`lifecycle ${workflowId} answered its approval without an invoice`);
  await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, {
    invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'bench', providerRef: `bench-${i}`, paidAt: new Date().toISOString(),
  });
  await h.client.workflow.getHandle(workflowId).result();
}

async function noopLifecycle(h: LifecycleHarness, i: number): Promise<void> {
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
}

/**
 * Complete lifecycles per second, end to end, against a no-op workflow of the same shape on
 * the same Temporal server. The harness's product worker must be running. After an untimed
 * warm-up of each, the two alternate in rounds (real, no-op, real, no-op, ...), so that the
 * machine's drift over the run, which on a shared machine is larger than the difference being
 * measured, falls on both alike; each round's own ratio is reported too, as the spread.
 */
export async function benchLifecycles(h: LifecycleHarness, count: number, concurrency: number, rounds = 4) {
  const connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(here, '..', 'noop', 'workflows.ts') });
  // The harness's client encrypts every payload: the no-op worker decodes them with the same codec (and pays for it, as the product's worker does).
  const noop = await Worker.create({ connection, taskQueue: NOOP_QUEUE, workflowBundle: bundle, activities: noopActivities, dataConverter: temporalDataConverter(h.codec) });
  const perRound = Math.ceil(count / rounds);
  const warmUpFrom = perRound * rounds;
  const cpu = { real: { bench: 0, temporal: 0, postgres: 0 }, noop: { bench: 0, temporal: 0, postgres: 0 } };
  const add = (sum: CpuSnapshot, from: CpuSnapshot, to: CpuSnapshot) => {
    for (const key of Object.keys(sum) as (keyof CpuSnapshot)[]) sum[key] += to[key] - from[key];
  };
  // Wall seconds of one round of one kind, and the CPU every process of the run spent meanwhile.
  const timed = async (kind: 'real' | 'noop', run: () => Promise<void>) => {
    const cpuBefore = cpuSnapshot();
    const start = performance.now();
    await run();
    const seconds = (performance.now() - start) / 1000;
    add(cpu[kind], cpuBefore, cpuSnapshot());
    return seconds;
  };
  const seconds: { real: number; noop: number }[] = [];
  await noop.runUntil(async () => {
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
  });
  await connection.close();

  const total = perRound * rounds;
  const zero: CpuSnapshot = { bench: 0, temporal: 0, postgres: 0 };
  const real = total / seconds.reduce((sum, r) => sum + r.real, 0);
  const baseline = total / seconds.reduce((sum, r) => sum + r.noop, 0);
  return {
    count: total, concurrency, rounds,
    lifecyclesPerSecond: round(real), noopPerSecond: round(baseline), ratio: ratio(real, baseline),
    roundRatios: seconds.map((r) => ratio(r.noop, r.real)),
    // Where a lifecycle's CPU goes: this process (worker, activities, client, codec), the Temporal server, Postgres.
    cpuMsPerLifecycle: { real: cpuMsPer(zero, cpu.real, total), noop: cpuMsPer(zero, cpu.noop, total) },
  };
}
