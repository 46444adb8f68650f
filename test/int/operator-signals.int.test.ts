/**
 * Decisions sent as signals (the Temporal Web UI, the `temporal` CLI) are an operator's: the
 * `by` the operator types is recorded as `operator:<name>`, never as the user it may name.
 */
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import * as m from '../../src/members/lifecycle-contract.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { signalActor } from '../../workflows/members/signal-actor.ts';
import { asTest, awaitInvoice, lifecycleHandle, memberEvents, paymentFor, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 60_000 });
  ({ worker, running } = await h.startWorker());
});
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
});

const actorsOf = (memberId: string) => asTest(h, (tx) => tx.anyFirst(sql.type(z.object({ actor: z.string().nullable() }))`
  SELECT actor FROM audit_log WHERE table_name = 'members' AND record_id = ${memberId}`));

test('an approve signal naming a head as `user:<id>` is recorded as operator:user-<id>, in the event, its metadata and the audit log', async () => {
  const member = await registerMember(h, 'signal-approved@example.np');
  const handle = lifecycleHandle(h, member.workflowId);
  await handle.signal(m.approveSignal, { by: `user:${h.headUserId}`, note: 'typed in the Temporal UI' });
  await handle.signal(m.paymentReceivedSignal, paymentFor(await awaitInvoice(handle)));
  expect((await handle.result()).stage).toBe('CardIssued');
  const approved = (await memberEvents(h, member.memberId)).filter((e) => e.type === 'MemberApproved');
  expect(approved.map((e) => [e.payload.by, e.metadata.actor])).toEqual([[`operator:user-${h.headUserId}`, `operator:user-${h.headUserId}`]]);
  const events = (await memberEvents(h, member.memberId)).map(({ payload, metadata }) => ({ payload, metadata }));
  const everything = JSON.stringify([events, await actorsOf(member.memberId)]);
  expect(everything).not.toContain(`user:${h.headUserId}`);
});

test('a reject signal is recorded under the operator name typed; an Update from the API still records the user', async () => {
  const rejected = await registerMember(h, 'signal-rejected@example.np');
  await lifecycleHandle(h, rejected.workflowId).signal(m.rejectSignal, { by: 'ram.operator', reason: 'duplicate person' });
  expect((await lifecycleHandle(h, rejected.workflowId).result()).stage).toBe('Rejected');
  expect((await memberEvents(h, rejected.memberId)).filter((e) => e.type === 'MemberRejected').map((e) => e.payload.by)).toEqual(['operator:ram.operator']);

  const byUpdate = await registerMember(h, 'update-approved@example.np');
  await sendLifecycleUpdate(h.client, byUpdate.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  expect((await memberEvents(h, byUpdate.memberId)).filter((e) => e.type === 'MemberApproved').map((e) => e.payload.by)).toEqual([`user:${h.headUserId}`]);
  await lifecycleHandle(h, byUpdate.workflowId).terminate('test finished');
});

test.each([
  ['user:0b7c', 'operator:user-0b7c'],
  ['operator:sita', 'operator:sita'],
  ['  ', 'operator:unnamed'],
  [undefined, 'operator:unnamed'],
  ['a'.repeat(100), `operator:${'a'.repeat(64)}`],
  ['workflow:x; DROP', 'operator:workflow-x-DROP'],
])('signalActor(%j) is %s', (typed, actor) => {
  expect(signalActor(typed)).toBe(actor);
});
