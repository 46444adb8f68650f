/**
 * How an operator finds workflows still on an old version (docs/workflow-rollout.md), on the
 * real Temporal dev server: `patched()` of this SDK upserts the TemporalChangeVersion search
 * attribute when it records its marker, so visibility tells the workflows that took a patch from
 * those that did not; `workflows:versions` counts both, per workflow type and patch id.
 */
import type { Worker } from '@temporalio/worker';
import * as m from '../../src/members/lifecycle-contract.ts';
import { notTakenQuery, runningQuery, takenQuery } from '../../src/temporal/workflow-versions.ts';
import { CARDS_OWN_QUEUE, CONTACT_TAKEN_REFUSAL, HEADS_TOLD_ON_ARRIVAL, LIFECYCLE_MERGED_STEPS, MEMO_FOLLOWS_STAGE, OPERATOR_SIGNAL_ACTORS, REGISTERED_BY_REQUEST } from '../../src/temporal/workflow-patches.ts';
import { runOperatorCli } from '../support/cli-process.ts';
import { awaitInvoice, lifecycleHandle, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
/** Waits for approval: it has not reached the patched code, and carries no patch id. */
let untouched: { workflowId: string };
/** Approved by an operator's signal after `between`: took operator-signal-actors. */
let patchedOne: { workflowId: string };
let between: Date;

const tenantOnly = () => ({ tenantId: h.tenant.id });
const count = async (query: string) => (await h.client.workflow.count(query)).count;

/** Visibility trails the workflows: poll until the count is what the workflows did. */
async function countUntil(query: string, expected: number): Promise<number> {
  let seen = -1;
  for (let i = 0; i < 150 && seen !== expected; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await count(query);
  }
  return seen;
}

beforeAll(async () => {
  h = await startLifecycleHarness();
  ({ worker, running } = await h.startWorker());
  untouched = await registerMember(h, 'waiting@example.np');
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  between = new Date();
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  patchedOne = await registerMember(h, 'signalled@example.np');
  const handle = lifecycleHandle(h, patchedOne.workflowId);
  await handle.signal(m.approveSignal, { by: 'ram.operator', note: 'from the Temporal UI' });
  await awaitInvoice(handle);
}, 120_000);
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
});

test('patched() records TemporalChangeVersion: a visibility query tells the lifecycles that took the patch from those that did not', async () => {
  const described = await lifecycleHandle(h, patchedOne.workflowId).describe();
  // Every lifecycle takes the patches it reaches on arrival (registered-by-request, memo-follows-stage, heads-told-on-arrival, lifecycle-merged-steps, cards-own-queue); only the signalled one takes operator-signal-actors.
  const versions = (workflowId: string) => lifecycleHandle(h, workflowId).describe().then((d) => [...(d.searchAttributes.TemporalChangeVersion as string[] | undefined ?? [])].sort());
  expect([...described.searchAttributes.TemporalChangeVersion as string[]].sort()).toEqual([CARDS_OWN_QUEUE, HEADS_TOLD_ON_ARRIVAL, LIFECYCLE_MERGED_STEPS, MEMO_FOLLOWS_STAGE, OPERATOR_SIGNAL_ACTORS, REGISTERED_BY_REQUEST].sort());
  expect(await versions(untouched.workflowId)).toEqual([CARDS_OWN_QUEUE, HEADS_TOLD_ON_ARRIVAL, LIFECYCLE_MERGED_STEPS, MEMO_FOLLOWS_STAGE, REGISTERED_BY_REQUEST].sort());

  expect(await countUntil(takenQuery(m.MEMBER_LIFECYCLE_WORKFLOW, OPERATOR_SIGNAL_ACTORS, tenantOnly()), 1)).toBe(1);
  expect(await countUntil(runningQuery(m.MEMBER_LIFECYCLE_WORKFLOW, tenantOnly()), 2)).toBe(2);
  // The negation, as an operator types it, finds the lifecycle whose list lacks the id.
  const notTaken = notTakenQuery(m.MEMBER_LIFECYCLE_WORKFLOW, OPERATOR_SIGNAL_ACTORS, tenantOnly());
  const listed: string[] = [];
  for await (const execution of h.client.workflow.list({ query: notTaken })) listed.push(execution.workflowId);
  expect(listed).toEqual([untouched.workflowId]);
  // Started before a time (the deploy's): only the lifecycle that started before it.
  expect(await count(runningQuery(m.MEMBER_LIFECYCLE_WORKFLOW, { ...tenantOnly(), startedBefore: between }))).toBe(1);
});

const cliEnv = () => ({ DATABASE_URL: h.db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS! });
/** The row of the CLI's output that starts with `name`, split on runs of spaces. */
const rowOf = (stdout: string, name: string) => stdout.split('\n').find((line) => line.startsWith(`${name} `))?.trim().split(/\s+/);

test('workflows:versions counts running workflows per type and, per patch id, those that have not taken it', async () => {
  await countUntil(takenQuery(m.MEMBER_LIFECYCLE_WORKFLOW, OPERATOR_SIGNAL_ACTORS, tenantOnly()), 1);
  const all = await runOperatorCli(['workflows:versions', '--tenant', h.tenant.slug], cliEnv());
  expect([all.code, all.stderr]).toEqual([0, '']);
  expect(rowOf(all.stdout, 'memberLifecycle')).toEqual(['memberLifecycle', '2']);
  expect(rowOf(all.stdout, 'memberTransfer')).toEqual(['memberTransfer', '0']);
  expect(rowOf(all.stdout, 'memberStatusChange')).toEqual(['memberStatusChange', '0']);
  // patch id, workflow type, not taken, taken
  expect(rowOf(all.stdout, OPERATOR_SIGNAL_ACTORS)).toEqual([OPERATOR_SIGNAL_ACTORS, 'memberLifecycle', '1', '1']);
  expect(rowOf(all.stdout, CONTACT_TAKEN_REFUSAL)).toEqual([CONTACT_TAKEN_REFUSAL, 'memberLifecycle', '2', '0']);
  expect(rowOf(all.stdout, HEADS_TOLD_ON_ARRIVAL)).toEqual([HEADS_TOLD_ON_ARRIVAL, 'memberLifecycle', '0', '2']);
  expect(rowOf(all.stdout, MEMO_FOLLOWS_STAGE)).toEqual([MEMO_FOLLOWS_STAGE, 'memberLifecycle', '0', '2']);
  expect(all.stdout).toContain(`${OPERATOR_SIGNAL_ACTORS}: ${notTakenQuery(m.MEMBER_LIFECYCLE_WORKFLOW, OPERATOR_SIGNAL_ACTORS, tenantOnly())}`);

  const before = await runOperatorCli(['workflows:versions', '--tenant', h.tenant.slug, '--started-before', between.toISOString()], cliEnv());
  expect([before.code, before.stderr]).toEqual([0, '']);
  expect(rowOf(before.stdout, 'memberLifecycle')).toEqual(['memberLifecycle', '1']);
  expect(rowOf(before.stdout, OPERATOR_SIGNAL_ACTORS)).toEqual([OPERATOR_SIGNAL_ACTORS, 'memberLifecycle', '1', '0']);
  expect(before.stdout).toContain(`StartTime < '${between.toISOString()}'`);
}, 60_000);

test('workflows:versions: bad input is named and nothing is asked of Temporal', async () => {
  const badTime = await runOperatorCli(['workflows:versions', '--started-before', 'yesterday'], cliEnv());
  expect([badTime.code, badTime.stderr]).toEqual([2, expect.stringMatching(/^--started-before: /)]);
  const unknownParty = await runOperatorCli(['workflows:versions', '--tenant', 'no-such-party'], cliEnv());
  expect([unknownParty.code, unknownParty.stderr]).toEqual([1, '--tenant: no party with slug "no-such-party"\n']);
  const noTemporal = await runOperatorCli(['workflows:versions'], { DATABASE_URL: h.db.appUrl });
  expect([noTemporal.code, noTemporal.stderr]).toEqual([1, 'TEMPORAL_ADDRESS is not set: workflows:versions reads Temporal visibility\n']);
}, 60_000);
