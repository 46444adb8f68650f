import type { Worker } from '@temporalio/worker';
import { withTenant } from '../../src/db/tenant-context.ts';
import { verifyAnchoredChain } from '../../src/events/chain-anchors.ts';
import { CHAIN_ANCHORING_SCHEDULE_ID, ensureChainAnchoringSchedule } from '../../src/temporal/schedules.ts';
import { registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

/** The Schedule the worker creates anchors every party's chain through a real worker and dev server. */
let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  h = await startLifecycleHarness();
  ({ worker, running } = await h.startWorker());
});
afterAll(async () => {
  await h.client.schedule.getHandle(CHAIN_ANCHORING_SCHEDULE_ID).delete().catch(() => undefined);
  worker.shutdown();
  await running;
  await h.close();
});

const verification = () => withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, (tx) => verifyAnchoredChain(tx, h.tenant.id, h.keyring));

async function triggeredRun(): Promise<{ parties: number; anchored: number }> {
  const schedule = h.client.schedule.getHandle(CHAIN_ANCHORING_SCHEDULE_ID);
  const before = (await schedule.describe()).info.numActionsTaken;
  await schedule.trigger();
  for (let i = 0; i < 200; i++) {
    const { info } = await schedule.describe();
    const started = info.recentActions.at(-1)?.action.workflow.workflowId;
    if (info.numActionsTaken > before && started) return h.client.workflow.getHandle(started).result() as Promise<{ parties: number; anchored: number }>;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the schedule took no action');
}

test('the schedule anchors a party whose chain moved, and only then', async () => {
  await registerMember(h, 'anchored@example.np');
  expect((await verification()).anchors.anchors).toBe(0);
  await ensureChainAnchoringSchedule(h.client, 60);
  // A second worker start finds the schedule and keeps it.
  await ensureChainAnchoringSchedule(h.client, 30);
  expect((await h.client.schedule.getHandle(CHAIN_ANCHORING_SCHEDULE_ID).describe()).spec.intervals).toMatchObject([{ every: 30 * 60_000 }]);
  expect(await triggeredRun()).toEqual({ parties: 1, anchored: 1 });
  const anchored = await verification();
  expect(anchored).toMatchObject({ intact: true, anchors: { anchors: 1, unanchoredEvents: 0n } });
  expect(await triggeredRun()).toEqual({ parties: 1, anchored: 0 });
});
