/**
 * The payload codec and failure converter on a real worker and Temporal server: an activity's
 * failure is stored with its message and stack trace encrypted, and the workflow, the client
 * and the API still read the refusal it carries.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import * as sc from '../../src/members/status-change-contract.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';
import { payloadsIn, payloadText } from '../support/temporal-payloads.ts';

let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  h = await startLifecycleHarness();
  ({ worker, running } = await h.startWorker());
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await h?.close();
});

test('an activity failure is stored as "Encoded failure" with its message and stack trace encrypted; the workflow still reads its refusal', async () => {
  // A death recorded for a member the party does not have: the step refuses it (MEMBER_NOT_FOUND), the workflow ends refused.
  const memberId = randomUUID();
  const workflowId = sc.statusChangeWorkflowId('death', h.tenant.id, memberId, 1);
  const handle = await h.client.workflow.start(sc.STATUS_CHANGE_WORKFLOW, {
    workflowId, taskQueue: MEMBERSHIP_TASK_QUEUE, args: [{ tenantId: h.tenant.id, memberId, change: { kind: 'death', by: `user:${h.headUserId}`, note: null } }],
  });
  expect(await handle.result()).toEqual({ outcome: 'refused' });

  const history = await handle.fetchHistory();
  const failures = (history.events ?? []).flatMap((e) => (e.activityTaskFailedEventAttributes?.failure ? [e.activityTaskFailedEventAttributes.failure] : []));
  expect(failures.length).toBeGreaterThan(0);
  for (let failure = failures[0]; failure; failure = failure.cause ?? undefined) {
    // Each failure of the chain: what Temporal stores in the clear is the placeholder and the error code only.
    expect([failure.message, failure.stackTrace]).toEqual(['Encoded failure', '']);
    const [attributes] = payloadsIn(failure.encodedAttributes, '.encodedAttributes');
    expect(attributes?.encoding).toBe('binary/encrypted');
    expect(payloadText(attributes!.payload)).not.toMatch(/member|Error|\.ts/);
    // Opened by the codec, the message and the stack trace are there.
    const [opened] = await h.codec.decode([attributes!.payload]);
    expect(JSON.parse(payloadText(opened!))).toEqual({ message: expect.stringMatching(/member/i), stack_trace: expect.stringContaining('.ts') });
  }
  expect(failures[0]!.applicationFailureInfo?.type).toBeTruthy();
});
