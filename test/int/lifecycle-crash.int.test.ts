import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../workflows/members/messages.ts';
import {
  awaitInvoice, lifecycleHandle, memberEvents, memberRow, paymentFor, recipientsOf, registerMember, rowCount,
  startLifecycleHarness, type LifecycleHarness,
} from '../support/lifecycle-harness.ts';

let h: LifecycleHarness;
beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 120_000 });
});
afterAll(() => h.close());

async function stop(started: Awaited<ReturnType<LifecycleHarness['startWorker']>>): Promise<void> {
  started.worker.shutdown();
  await started.running;
}

const subjects = { approved: 'has been approved', invoice: 'Membership fee invoice', activated: 'membership is active' };

async function expectEverythingOnce(memberId: string, email: string, result: m.LifecycleStatus): Promise<void> {
  expect(result.stage).toBe('CardIssued');
  expect(result.memberNumber).toMatch(/^TP-\d{4}-M-\d{6}$/);
  expect((await memberEvents(h, memberId)).map((e) => e.type))
    .toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'IdCardIssued']);
  expect(await memberRow(h, memberId)).toEqual({ status: 'active', memberNumber: result.memberNumber, version: 6 });
  for (const table of ['invoices', 'payments', 'id_cards'] as const) expect([table, await rowCount(h, table, memberId)]).toEqual([table, 1]);
  expect(await rowCount(h, 'mail_deliveries', memberId)).toBe(3);
  for (const [kind, subject] of Object.entries(subjects)) {
    const sent = h.smtp.messages.filter((mail) => recipientsOf(mail).includes(email) && (mail.subject?.includes(subject) ?? false));
    expect([kind, sent.length]).toEqual([kind, 1]);
  }
}

test('a worker stopped while the lifecycle awaits payment: a new worker finishes it, and everything happened once', async () => {
  const first = await h.startWorker();
  const email = 'restart@example.np';
  const registered = await registerMember(h, email);
  const handle = lifecycleHandle(h, registered.workflowId);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  const invoice = await awaitInvoice(handle);
  await stop(first);

  const second = await h.startWorker();
  try {
    await sendLifecycleUpdate(h.client, registered.workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
    await expectEverythingOnce(registered.memberId, email, await handle.result());
  } finally {
    await stop(second);
  }
}, 60_000);

/**
 * Every activity's first attempt does all its work (its transactions commit, its mail is
 * delivered) and then fails, as if the worker died before reporting completion. The first
 * attempt of activateMember instead hangs after committing until its worker is shut down.
 */
function crashAfterCommit(hangIn: string) {
  const crashed: string[] = [];
  let markHung!: () => void;
  const hung = new Promise<void>((resolve) => (markHung = resolve));
  const factory: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        const result = await next(input);
        if (ctx.info.attempt > 1) return result;
        crashed.push(ctx.info.activityType);
        if (ctx.info.activityType === hangIn) {
          markHung();
          await ctx.cancelled;
        }
        throw new Error(`simulated crash after ${ctx.info.activityType} completed its work`);
      },
    },
  });
  return { crashed, hung, interceptors: { activity: [factory] } };
}

test('every step crashes once after committing, and a worker is shut down mid-activity: still everything once', async () => {
  const crash = crashAfterCommit('activateMember');
  const first = await h.startWorker({ interceptors: crash.interceptors });
  const email = 'crash@example.np';
  const registered = await registerMember(h, email);
  const handle = lifecycleHandle(h, registered.workflowId);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  await handle.signal(m.paymentReceivedSignal, paymentFor(await awaitInvoice(handle)));
  await crash.hung;
  expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'active' });
  await stop(first);
  const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'activateMember');
  expect([pending?.attempt, pending?.lastFailure?.message]).toEqual([2, expect.stringContaining('Worker is shutting down')]);

  const second = await h.startWorker({ interceptors: crash.interceptors });
  try {
    await expectEverythingOnce(registered.memberId, email, await handle.result());
  } finally {
    await stop(second);
  }
  expect(crash.crashed).toEqual(expect.arrayContaining([
    'recordApplication', 'loadLifecycleSettings', 'recordApproval', 'issueInvoice', 'recordPayment', 'activateMember', 'issueIdCard', 'sendMemberEmail',
  ]));
  expect(crash.crashed.filter((type) => type === 'sendMemberEmail')).toHaveLength(3);
}, 60_000);
