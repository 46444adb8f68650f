import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { ApplicationSchema } from '../../src/members/application.ts';
import { MemberId, MemberStage, StageEnteredAt, TenantId } from '../../src/temporal/search-attributes.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { LifecycleHarness } from '../../test/support/lifecycle-harness.ts';
import * as noopActivities from '../noop/activities.ts';
import { approveUpdate, paymentReceivedUpdate, registerUpdate, statusQuery } from '../noop/workflows.ts';
import { ratio, round } from '../support/stats.ts';
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
  await sendLifecycleUpdate(h.client, workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  const handle = h.client.workflow.getHandle(workflowId);
  let invoice = (await handle.query(m.statusQuery)).invoice;
  while (!invoice) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    invoice = (await handle.query(m.statusQuery)).invoice;
  }
  await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, {
    invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'bench', providerRef: `bench-${i}`, paidAt: new Date().toISOString(),
  });
  await handle.result();
}

async function noopLifecycle(h: LifecycleHarness, i: number): Promise<void> {
  const start = new WithStartWorkflowOperation('noopLifecycle', {
    workflowId: `bench-noop-${Date.now()}-${i}`, taskQueue: NOOP_QUEUE, workflowIdConflictPolicy: 'FAIL',
    typedSearchAttributes: [{ key: TenantId, value: h.tenant.id }, { key: MemberId, value: `noop-${i}` }, { key: MemberStage, value: 'Registered' }, { key: StageEnteredAt, value: new Date() }],
  });
  await h.client.workflow.executeUpdateWithStart(registerUpdate, { args: [{}], startWorkflowOperation: start });
  const handle = await start.workflowHandle();
  await handle.executeUpdate(approveUpdate, { args: [{}] });
  // As the real driver does: wait for the invoice through the status query.
  while (!(await handle.query(statusQuery)).invoice) await new Promise((resolve) => setTimeout(resolve, 20));
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
  const timed = async (run: () => Promise<void>) => {
    const start = performance.now();
    await run();
    return (performance.now() - start) / 1000;
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
        real: await timed(() => pool(perRound, concurrency, (i) => realLifecycle(h, offset + i))),
        noop: await timed(() => pool(perRound, concurrency, (i) => noopLifecycle(h, offset + i))),
      });
    }
  });
  await connection.close();

  const total = perRound * rounds;
  const real = total / seconds.reduce((sum, r) => sum + r.real, 0);
  const baseline = total / seconds.reduce((sum, r) => sum + r.noop, 0);
  return {
    count: total, concurrency, rounds,
    lifecyclesPerSecond: round(real), noopPerSecond: round(baseline), ratio: ratio(real, baseline),
    roundRatios: seconds.map((r) => ratio(r.noop, r.real)),
  };
}
