import { randomUUID } from 'node:crypto';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { createMemberActivities } from '../../activities/members/index.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import {
  applicationFor, asTest, awaitInvoice, lifecycleHandle, memberEvents, memberRow, paymentFor, recipientsOf, registerMember, rowCount,
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

async function expectEverythingOnce(memberId: string, email: string, result: m.LifecycleStatus): Promise<void> {
  expect(result.stage).toBe('CardIssued');
  expect(result.memberNumber).toMatch(/^TP-\d{4}-M-\d{6}$/);
  expect((await memberEvents(h, memberId)).map((e) => e.type))
    .toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted', 'IdCardIssued']);
  expect(await memberRow(h, memberId)).toEqual({ status: 'active', memberNumber: result.memberNumber, version: 7 });
  for (const table of ['invoices', 'payments', 'id_cards'] as const) expect([table, await rowCount(h, table, memberId)]).toEqual([table, 1]);
  // Three to the applicant, and one to the committee's head when the application arrived.
  expect(await rowCount(h, 'mail_deliveries', memberId)).toBe(4);
  expect(h.smtp.messages.filter((mail) => recipientsOf(mail).includes('head@party.test') && (mail.subject?.includes(`New membership application ${memberId}`) ?? false))).toHaveLength(1);
  for (const subject of ['has been approved', 'Membership fee invoice', 'membership is active']) {
    const sent = h.smtp.messages.filter((mail) => recipientsOf(mail).includes(email) && (mail.subject?.includes(subject) ?? false));
    expect([subject, sent.length]).toEqual([subject, 1]);
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
 * Every activity's first attempt (local activities' too) does all its work (its transactions
 * commit, its mail is delivered) and then fails, as if the worker died before reporting
 * completion. The first attempt of `hangIn` instead hangs after committing until its worker is
 * shut down.
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
  const crash = crashAfterCommit('payAndActivate');
  const first = await h.startWorker({ interceptors: crash.interceptors });
  const email = 'crash@example.np';
  const registered = await registerMember(h, email);
  const handle = lifecycleHandle(h, registered.workflowId);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  await handle.signal(m.paymentReceivedSignal, paymentFor(await awaitInvoice(handle)));
  await crash.hung;
  expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'active' });
  await stop(first);
  const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'payAndActivate');
  expect([pending?.attempt, pending?.lastFailure?.message]).toEqual([2, expect.stringContaining('Worker is shutting down')]);

  const second = await h.startWorker({ interceptors: crash.interceptors });
  try {
    await expectEverythingOnce(registered.memberId, email, await handle.result());
  } finally {
    await stop(second);
  }
  // The application was recorded by the registration itself, before the lifecycle started (a crash
  // between that commit and the start is the relay's: test/faults/registration-relay.faults.test.ts).
  // The settings read as a local activity; the approval with its invoice and the payment with the activation one activity and one transaction each.
  expect(crash.crashed).toEqual(expect.arrayContaining([
    'notifyCommitteeHeads', 'loadLifecycleSettings', 'approveAndInvoice', 'payAndActivate', 'issueIdCard', 'sendMemberEmail',
  ]));
  expect(crash.crashed.filter((type) => type === 'sendMemberEmail')).toHaveLength(3);
}, 60_000);

/** A member registered, approved and invoiced by calling the activities directly, outside any worker. */
async function invoicedDirectly(email: string) {
  const steps = createMemberActivities(h.deps);
  const memberId = randomUUID();
  const step = { tenantId: h.tenant.id, memberId, workflowId: `direct-${memberId}` };
  const sealed = await asTest(h, async (tx) => sealApplication(await h.keyring.forTenant(tx, h.tenant.id), memberId, applicationFor(h, email), 'status-token'));
  await steps.recordApplication(step, sealed);
  await steps.recordApproval(step, 'user:direct', null);
  return { steps, step, memberId, invoice: await steps.issueInvoice(step, 50_000, 'NPR', 60_000) };
}

test('each activity called again with the same step returns the same result and changes nothing', async () => {
  const email = 'direct@example.np';
  const { steps, step, memberId, invoice } = await invoicedDirectly(email);
  const snapshot = async () => ({
    events: (await memberEvents(h, memberId)).map((e) => e.type),
    member: await memberRow(h, memberId),
    rows: await Promise.all((['invoices', 'payments', 'id_cards', 'mail_deliveries'] as const).map((table) => rowCount(h, table, memberId))),
    mails: h.smtp.messages.filter((mail) => recipientsOf(mail).includes(email)).length,
  });
  async function twice<T>(call: () => Promise<T>): Promise<[T, T, Awaited<ReturnType<typeof snapshot>>]> {
    const first = await call();
    const after = await snapshot();
    const second = await call();
    expect(await snapshot()).toEqual(after);
    return [first, second, after];
  }
  const idOf = (table: 'payments' | 'id_cards') =>
    asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM ${sql.identifier([table])} WHERE member_id = ${memberId}`));

  const [, invoiceAgain, afterInvoice] = await twice(() => steps.issueInvoice(step, 50_000, 'NPR', 60_000));
  expect(invoiceAgain).toEqual(invoice);
  expect(afterInvoice.rows).toEqual([1, 0, 0, 0]);
  const [paid, , afterPayment] = await twice(() => steps.recordPayment(step, paymentFor(invoice)));
  expect(afterPayment.rows).toEqual([1, 1, 0, 0]);
  expect(await idOf('payments')).toBe(paid.paymentId);
  const [activated, activatedAgain, afterActivation] = await twice(() => steps.activateMember(step));
  expect(activatedAgain).toEqual(activated);
  expect(afterActivation.member).toEqual({ status: 'active', memberNumber: activated.memberNumber, version: 6 });
  const [card, cardAgain, afterCard] = await twice(() => steps.issueIdCard(step));
  expect(cardAgain).toEqual(card);
  expect(await idOf('id_cards')).toBe(card.cardId);
  expect(afterCard.events).toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted', 'IdCardIssued']);
  const [sent, sentAgain, afterMail] = await twice(() => steps.sendMemberEmail(step, { kind: 'activated', memberNumber: activated.memberNumber }));
  expect([sent, sentAgain]).toEqual(['sent', 'already-sent']);
  expect([afterMail.mails, afterMail.rows[3]]).toEqual([1, 1]);
});

test('recordPayment called again returns the payment id it recorded, not a fresh one', async () => {
  const { steps, step, invoice } = await invoicedDirectly('repeat-payment@example.np');
  const first = await steps.recordPayment(step, paymentFor(invoice));
  expect(await steps.recordPayment(step, paymentFor(invoice))).toEqual(first);
});

test("a provider reference already used by another member's payment is refused, and pays nothing", async () => {
  const a = await invoicedDirectly('payer-a@example.np');
  const b = await invoicedDirectly('payer-b@example.np');
  await a.steps.recordPayment(a.step, { ...paymentFor(a.invoice), providerRef: 'esewa-receipt-1' });
  await expect(b.steps.recordPayment(b.step, { ...paymentFor(b.invoice), providerRef: 'esewa-receipt-1' }))
    .rejects.toMatchObject({ type: 'DUPLICATE_PAYMENT_REFERENCE', nonRetryable: true });
  await expect(b.steps.activateMember(b.step)).rejects.toMatchObject({ type: 'MEMBER_NOT_PAID' });
});

test('the merged steps called again with the same step return the same result and change nothing; a refused payment activates nothing', async () => {
  const steps = createMemberActivities(h.deps);
  const memberId = randomUUID();
  const step = { tenantId: h.tenant.id, memberId, workflowId: `direct-${memberId}` };
  const sealed = await asTest(h, async (tx) => sealApplication(await h.keyring.forTenant(tx, h.tenant.id), memberId, applicationFor(h, 'merged-direct@example.np'), 'status-token'));
  await steps.recordApplication(step, sealed);
  const state = async () => ({
    events: (await memberEvents(h, memberId)).map((e) => e.type),
    member: await memberRow(h, memberId),
    rows: await Promise.all((['invoices', 'payments'] as const).map((table) => rowCount(h, table, memberId))),
  });
  const fee = { amountMinor: 50_000, currency: 'NPR', paymentWindowMs: 60_000 };
  const invoice = await steps.approveAndInvoice(step, { by: 'user:direct', note: null }, fee);
  const invoiced = await state();
  expect(invoiced).toMatchObject({ events: ['MemberRegistered', 'MemberApproved', 'InvoiceIssued'], rows: [1, 0] });
  expect(await steps.approveAndInvoice(step, { by: 'user:direct', note: null }, fee)).toEqual(invoice);
  expect(await state()).toEqual(invoiced);

  // A reference that paid another member: refused for good, and neither the payment nor the activation is left.
  const other = await invoicedDirectly('merged-other@example.np');
  await other.steps.recordPayment(other.step, { ...paymentFor(other.invoice), providerRef: 'merged-receipt-1' });
  await expect(steps.payAndActivate(step, { ...paymentFor(invoice), providerRef: 'merged-receipt-1' }))
    .rejects.toMatchObject({ type: 'DUPLICATE_PAYMENT_REFERENCE', nonRetryable: true });
  expect(await state()).toEqual(invoiced);

  const paid = await steps.payAndActivate(step, paymentFor(invoice));
  const activated = await state();
  expect(activated).toEqual({
    events: ['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted'],
    member: { status: 'active', memberNumber: paid.memberNumber, version: 6 }, rows: [1, 1],
  });
  expect(await steps.payAndActivate(step, paymentFor(invoice))).toEqual(paid);
  expect(await state()).toEqual(activated);
});
