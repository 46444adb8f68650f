import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readStream } from '../../src/events/event-store.ts';
import { ApplicationSchema, type Application } from '../../src/members/application.ts';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import { AfterCommitStarts, relayLifecycleStarts } from '../../src/members/lifecycle-starts.ts';
import { recordPayment } from '../../src/payments/record-payment.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { memberLifecycle } from '../../workflows/members/member-lifecycle.ts';
import { memberRow, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';
import { randomUUID } from 'node:crypto';
import * as sc from '../../src/members/status-change-contract.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { payloadsIn, payloadText } from '../support/temporal-payloads.ts';

let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let phoneSeq = 0;

const application = (email: string | undefined = `applicant${phoneSeq}@example.np`) =>
  ApplicationSchema.parse({ fullNameEn: 'Sita Sharma', fullNameNe: 'सीता शर्मा', gender: 'F', phone: `98${String(40_000_000 + ++phoneSeq)}`, email, wardId: h.geo.wardIds[1] });
const register = () => registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, application());
const handleOf = (workflowId: string) => h.client.workflow.getHandle<typeof memberLifecycle>(workflowId);
const as = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, work);
const count = (table: string, memberId: string) =>
  as((tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE member_id = ${memberId}`));

async function invoiceOf(handle: WorkflowHandle<typeof memberLifecycle>) {
  for (let i = 0; i < 100; i++) {
    const status = await handle.query(m.statusQuery);
    if (status.invoice) return status.invoice;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no invoice issued');
}

const payment = (invoice: { invoiceId: string; amountMinor: number; currency: string }, providerRef = `esewa-${invoice.invoiceId}`): m.PaymentMessage =>
  ({ invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'esewa', providerRef, paidAt: new Date().toISOString() });

beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 60_000 });
  ({ worker, running } = await h.startWorker());
});
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
});

test('happy path: approval, invoice, payment, activation, ID card and email, in order', async () => {
  const registered = await register();
  expect(registered.stage).toBe('AwaitingApproval');
  const handle = handleOf(registered.workflowId);
  // The approval answers once the invoice is issued, with it: nothing to poll for.
  const approved = await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}`, note: 'welcome' });
  const invoice = await invoiceOf(handle);
  expect(approved).toEqual({ stage: 'AwaitingPayment', invoice });
  expect(invoice.amountMinor).toBe(50_000);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.paymentReceivedUpdate, payment(invoice));
  const result = await handle.result();

  expect(result.stage).toBe('CardIssued');
  expect(result.memberNumber).toMatch(/^TP-\d{4}-F-\d{6}$/);
  const events = await as((tx) => readStream(tx, registered.memberId));
  expect(events.map((e) => e.type)).toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted', 'IdCardIssued']);
  expect(await count('invoices', registered.memberId)).toBe(1);
  expect(await count('payments', registered.memberId)).toBe(1);
  expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'active', memberNumber: result.memberNumber, version: 7 });

  const pdf = await h.deps.storage.get(idCardKey(h.tenant.slug, registered.memberId));
  const doc = await getDocument({ data: new Uint8Array(pdf) }).promise;
  expect(doc.numPages).toBe(1);
  const text = (await (await doc.getPage(1)).getTextContent()).items.map((item) => ('str' in item ? item.str : '')).join(' ');
  expect(text).toContain('Sita Sharma');
  expect(text).toContain(result.memberNumber);

  const [welcome] = await h.smtp.waitFor((mail) => mail.subject?.includes('membership is active') ?? false);
  expect(welcome?.attachments).toHaveLength(1);
  expect(welcome?.attachments[0]?.contentType).toBe('application/pdf');
  expect(welcome?.attachments[0]?.content.equals(Buffer.from(pdf))).toBe(true);
  expect(welcome?.text).toContain(result.memberNumber);
});

test('reject path: the member is rejected and told why', async () => {
  const registered = await register();
  await sendLifecycleUpdate(h.client, registered.workflowId, m.rejectUpdate, { by: `user:${h.headUserId}`, reason: 'not resident in the ward' });
  expect((await handleOf(registered.workflowId).result()).stage).toBe('Rejected');
  expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'rejected', memberNumber: null });
  expect(await count('invoices', registered.memberId)).toBe(0);
  const [mail] = await h.smtp.waitFor((msg) => msg.text?.includes('not resident in the ward') ?? false);
  expect(mail?.to).toBeTruthy();
});

test('a decision on a decided application is refused with MEMBER_NOT_AWAITING_APPROVAL', async () => {
  const registered = await register();
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: 'user:x' });
  const again = sendLifecycleUpdate(h.client, registered.workflowId, m.rejectUpdate, { by: 'user:x', reason: 'changed my mind' });
  await expect(again).rejects.toBeInstanceOf(MemberRuleError);
  await expect(again).rejects.toMatchObject({ code: 'MEMBER_NOT_AWAITING_APPROVAL' });
});

test('a payment of the wrong amount is refused and changes nothing', async () => {
  const registered = await register();
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: 'user:x' });
  const invoice = await invoiceOf(handleOf(registered.workflowId));
  const wrong = sendLifecycleUpdate(h.client, registered.workflowId, m.paymentReceivedUpdate, { ...payment(invoice), amount: 1 });
  await expect(wrong).rejects.toMatchObject({ code: 'PAYMENT_AMOUNT_MISMATCH' });
  expect(await count('payments', registered.memberId)).toBe(0);
  expect((await handleOf(registered.workflowId).query(m.statusQuery)).stage).toBe('AwaitingPayment');
});

test('duplicates: approve and payment signals sent twice each have one effect', async () => {
  const registered = await register();
  const handle = handleOf(registered.workflowId);
  await Promise.all([handle.signal(m.approveSignal, { by: 'user:a' }), handle.signal(m.approveSignal, { by: 'user:b' })]);
  const invoice = await invoiceOf(handle);
  const paid = payment(invoice);
  await Promise.all([handle.signal(m.paymentReceivedSignal, paid), handle.signal(m.paymentReceivedSignal, paid)]);
  expect((await handle.result()).stage).toBe('CardIssued');
  const events = await as((tx) => readStream(tx, registered.memberId));
  expect(events.filter((e) => e.type === 'MemberApproved')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'PaymentReceived')).toHaveLength(1);
  expect(await count('payments', registered.memberId)).toBe(1);
});

test.each([
  ['phone', (first: Application) => ({ ...first, email: `other-${phoneSeq}@example.np` }), 'phone number'],
  ['email', (first: Application) => ({ ...application(first.email), fullNameEn: 'Someone Else' }), 'email address'],
] as const)('an application with a %s the party holds is answered like any other, records no member, and its holder is emailed', async (_contact, sameContact, what) => {
  const first = application();
  const holder = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, first);
  const again = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, sameContact(first));
  expect(Object.keys(again).sort()).toEqual(Object.keys(holder).sort());
  expect(again.committeeId).toBe(holder.committeeId);
  expect((await handleOf(again.workflowId).result()).stage).toBe('RegistrationRefused');
  expect(await as((tx) => tx.exists(sql.unsafe`SELECT 1 FROM members WHERE id = ${again.memberId}`))).toBe(false);
  const [notice] = await h.smtp.waitFor((mail) => mail.subject?.includes(`used your ${what}`) === true && mail.text?.includes('Sita Sharma') === true);
  expect(notice?.to).toMatchObject({ text: first.email });
  const channelOf = (id: string) => as((tx) => tx.oneFirst(sql.type(z.object({ c: z.string().nullable() }))`
    SELECT notice_channel AS c FROM registration_refusals WHERE id = ${id} AND holder_id = ${holder.memberId}`));
  expect(await channelOf(again.memberId)).toBe('email');
  // Once a day is enough: another application naming the same contact tells the holder nothing more.
  const third = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, sameContact(first));
  expect((await handleOf(third.workflowId).result()).stage).toBe('RegistrationRefused');
  expect(await channelOf(third.memberId)).toBe('none');
  expect(h.smtp.messages.filter((mail) => mail.subject?.includes(`used your ${what}`) === true && JSON.stringify(mail.to).includes(first.email!))).toHaveLength(1);
});

test('with an Idempotency-Key a repeat gets the same member and status link; another application under the key is refused', async () => {
  const first = application();
  const key = `key-${crypto.randomUUID()}`;
  const deps = { client: h.client, pool: h.db.app, keyring: h.keyring };
  const [once, twice] = await Promise.all([registerApplicant(deps, h.tenant.id, first, { idempotencyKey: key }), registerApplicant(deps, h.tenant.id, first, { idempotencyKey: key })]);
  // The same answer; exactly one of the two recorded the application and its lifecycle's start (the other's start is not made: the first one's input is the lifecycle's).
  const { recordedNow: onceRecorded, ...onceAnswer } = once;
  const { recordedNow: twiceRecorded, ...twiceAnswer } = twice;
  expect(twiceAnswer).toEqual(onceAnswer);
  expect([onceRecorded, twiceRecorded].sort()).toEqual([false, true]);
  await expect(registerApplicant(deps, h.tenant.id, { ...first, fullNameEn: 'Not Sita' }, { idempotencyKey: key })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  await sendLifecycleUpdate(h.client, once.workflowId, m.rejectUpdate, { by: 'user:x', reason: 'not resident' });
  await handleOf(once.workflowId).result();
  // The lifecycle has ended: the repeat is answered from what it recorded, and starts nothing.
  expect(await registerApplicant(deps, h.tenant.id, first, { idempotencyKey: key })).toMatchObject({ memberId: once.memberId, statusToken: once.statusToken });
  await expect(registerApplicant(deps, h.tenant.id, { ...first, fullNameEn: 'Not Sita' }, { idempotencyKey: key })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  expect(await count('invoices', once.memberId)).toBe(0);
});

test('withdrawal while awaiting payment voids the invoice', async () => {
  const registered = await register();
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: 'user:x' });
  await invoiceOf(handleOf(registered.workflowId));
  await sendLifecycleUpdate(h.client, registered.workflowId, m.withdrawUpdate, { reason: 'moved abroad' });
  expect((await handleOf(registered.workflowId).result()).stage).toBe('Withdrawn');
  const status = await as((tx) => tx.oneFirst(sql.type(z.object({ s: z.string() }))`SELECT status::text AS s FROM invoices WHERE member_id = ${registered.memberId}`));
  expect(status).toBe('void');
});

test("a payment reusing another member's provider reference is refused; the member can still pay", async () => {
  const first = await register();
  await sendLifecycleUpdate(h.client, first.workflowId, m.approveUpdate, { by: 'user:x' });
  const firstInvoice = await invoiceOf(handleOf(first.workflowId));
  await sendLifecycleUpdate(h.client, first.workflowId, m.paymentReceivedUpdate, payment(firstInvoice, 'shared-receipt'));
  const second = await register();
  await sendLifecycleUpdate(h.client, second.workflowId, m.approveUpdate, { by: 'user:x' });
  const invoice = await invoiceOf(handleOf(second.workflowId));
  const reused = sendLifecycleUpdate(h.client, second.workflowId, m.paymentReceivedUpdate, payment(invoice, 'shared-receipt'));
  await expect(reused).rejects.toMatchObject({ code: 'DUPLICATE_PAYMENT_REFERENCE' });
  expect(await count('payments', second.memberId)).toBe(0);
  expect((await handleOf(second.workflowId).query(m.statusQuery)).stage).toBe('AwaitingPayment');
  await sendLifecycleUpdate(h.client, second.workflowId, m.paymentReceivedUpdate, payment(invoice, 'own-receipt'));
  expect((await handleOf(second.workflowId).result()).stage).toBe('CardIssued');
  expect(await count('payments', second.memberId)).toBe(1);
});

// The payload codec and failure converter on a real worker: what Temporal stores of a failure, and what the workflow still reads.
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

/*
 * The API answers a registration once it is committed and starts its lifecycle after the answer
 * (src/members/lifecycle-starts.ts, AfterCommitStarts). A message reaching the lifecycle before
 * that start (a head approving a millisecond after the answer) starts it from its recorded start
 * and goes through; the start that comes after finds it started: one lifecycle each.
 */
const notStarted = (memberIds: string[]) => as((tx) =>
  tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM lifecycle_starts WHERE started_at IS NULL AND member_id = ANY(${sql.array(memberIds, 'uuid')})`));
const inTemporal = async (workflowId: string) => handleOf(workflowId).describe().then(() => true, () => false);
/** Runs under the workflow id, open or closed, once visibility has them all. */
async function runsOf(workflowId: string): Promise<number> {
  let count = 0;
  for (let i = 0; i < 50 && count === 0; i++) {
    ({ count } = await h.client.workflow.count(`WorkflowId = "${workflowId}"`));
    if (count === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return count;
}

test('starts held back after the answer: approve, pay, reject, withdraw and a payment claim reach their lifecycles at once, each started once', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const held: string[] = [];
  const starts = new AfterCommitStarts({ client: h.client, pool: h.db.app }, { hold: async (start) => { held.push(start.workflowId); await gate; } });
  const deps = { client: h.client, pool: h.db.app, keyring: h.keyring, starts };
  const register = (name: string) => registerApplicant(deps, h.tenant.id, application(`${name}-${randomUUID()}@example.np`));
  const all: Registered[] = [];
  for (const name of ['approved', 'rejected', 'withdrawn', 'claimed', 'waiting']) all.push(await register(name));
  const [approved, rejected, withdrawn, claimed, waiting] = all as [Registered, Registered, Registered, Registered, Registered];

  // Every registration was answered while its start was still held: nothing in Temporal yet.
  expect(held).toEqual(all.map((r) => r.workflowId));
  expect(await Promise.all(all.map((r) => inTemporal(r.workflowId)))).toEqual(all.map(() => false));

  const target = { client: h.client, pool: h.db.app, tenantId: h.tenant.id };
  const by = `user:${h.headUserId}`;
  const approval = await sendLifecycleUpdate(target, approved.workflowId, m.approveUpdate, { by, note: null });
  expect(approval.stage).toBe('AwaitingPayment');
  const paid = await sendLifecycleUpdate(target, approved.workflowId, m.paymentReceivedUpdate, payment(approval.invoice!));
  expect(paid.payment).not.toBeNull();
  await expect(sendLifecycleUpdate(target, rejected.workflowId, m.rejectUpdate, { by, reason: 'not resident in the ward' })).resolves.toMatchObject({ stage: 'Rejected' });
  await expect(sendLifecycleUpdate(target, withdrawn.workflowId, m.withdrawUpdate, { reason: 'applicant:changed_mind' })).resolves.toMatchObject({ stage: 'Withdrawn' });
  // A payment before any approval reaches the lifecycle, which refuses it by its rules (not "try again").
  const claim = { memberId: claimed.memberId, invoiceId: randomUUID(), amount: 50_000, currency: 'NPR', provider: 'esewa', reference: `early-${randomUUID()}`, paidAt: new Date().toISOString() };
  await expect(recordPayment({ pool: h.db.app, temporal: h.client }, { tenantId: h.tenant.id, actor: 'test' }, claim)).rejects.toMatchObject({ code: 'MEMBER_NOT_AWAITING_PAYMENT' });
  // Without the database the sender cannot know the recorded start: it is told to try again, as before.
  await expect(sendLifecycleUpdate(h.client, waiting.workflowId, m.approveUpdate, { by, note: null })).rejects.toMatchObject({ code: 'TEMPORAL_UNAVAILABLE' });
  expect(await inTemporal(waiting.workflowId)).toBe(false);

  // The held starts go on now: each finds its lifecycle started, or starts it (the one no message reached).
  release();
  await starts.drain();
  await handleOf(approved.workflowId).result();
  expect(await memberRow(h, approved.memberId)).toMatchObject({ status: 'active' });
  expect(await memberRow(h, rejected.memberId)).toMatchObject({ status: 'rejected' });
  expect(await memberRow(h, withdrawn.memberId)).toMatchObject({ status: 'withdrawn' });
  expect(await memberRow(h, claimed.memberId)).toMatchObject({ status: 'awaiting_approval' });
  expect(await inTemporal(waiting.workflowId)).toBe(true);
  expect(await Promise.all(all.map((r) => runsOf(r.workflowId)))).toEqual(all.map(() => 1));
  expect(await notStarted(all.map((r) => r.memberId))).toBe(0);
}, 120_000);

test('starts after the answer are bounded: one beyond the bound is answered all the same and left to the relay, which starts it once', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const held: string[] = [];
  const starts = new AfterCommitStarts({ client: h.client, pool: h.db.app }, { maxInFlight: 2, hold: async (start) => { held.push(start.workflowId); await gate; } });
  const deps = { client: h.client, pool: h.db.app, keyring: h.keyring, starts };
  const all: Registered[] = [];
  for (const name of ['first', 'second', 'beyond']) all.push(await registerApplicant(deps, h.tenant.id, application(`${name}-${randomUUID()}@example.np`)));
  const [first, second, beyond] = all as [Registered, Registered, Registered];
  // All three answered (recorded); two starts under way, the third not taken.
  expect(all.map((r) => r.stage)).toEqual(['AwaitingApproval', 'AwaitingApproval', 'AwaitingApproval']);
  expect(held).toEqual([first.workflowId, second.workflowId]);
  expect(starts.inFlight).toBe(2);

  release();
  await starts.drain();
  expect(starts.inFlight).toBe(0);
  expect([await inTemporal(first.workflowId), await inTemporal(second.workflowId), await inTemporal(beyond.workflowId)]).toEqual([true, true, false]);
  expect(await notStarted(all.map((r) => r.memberId))).toBe(1);

  // The relay starts the one left to it; a start after that is taken again.
  await relayLifecycleStarts({ client: h.client, pool: h.db.app }, { olderThanMs: 0 });
  expect(await inTemporal(beyond.workflowId)).toBe(true);
  expect(await notStarted(all.map((r) => r.memberId))).toBe(0);
  expect(await Promise.all(all.map((r) => runsOf(r.workflowId)))).toEqual([1, 1, 1]);
  const after = await registerApplicant(deps, h.tenant.id, application(`after-${randomUUID()}@example.np`));
  await starts.drain();
  expect(await inTemporal(after.workflowId)).toBe(true);
}, 120_000);
