import type { Worker } from '@temporalio/worker';
import type { ParsedMail } from 'mailparser';
import { sql } from 'slonik';
import { z } from 'zod';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import {
  addCommitteeWithHead, asTest, awaitInvoice, lifecycleHandle, memberEvents, memberRow, paymentFor, recipientsOf, registerMember, rowCount,
  startLifecycleHarness, type LifecycleHarness,
} from '../support/lifecycle-harness.ts';

const REMINDER_MS = 2_000;
const ESCALATION_MS = 5_000;
const PAYMENT_WINDOW_MS = 2_000;

const to = (address: string, about: string) => (mail: ParsedMail) => recipientsOf(mail).includes(address) && (mail.subject?.includes(about) ?? false);
const stageAt = (status: m.LifecycleStatus, stage: m.MemberStageName) => Date.parse(status.history.find((entry) => entry.stage === stage)?.at ?? '');

function useHarness(durations: Parameters<typeof startLifecycleHarness>[0], setUp: (h: LifecycleHarness) => Promise<void> = async () => {}) {
  const ctx = {} as { h: LifecycleHarness; worker: Worker; running: Promise<void> };
  beforeAll(async () => {
    ctx.h = await startLifecycleHarness(durations);
    await setUp(ctx.h);
    ({ worker: ctx.worker, running: ctx.running } = await ctx.h.startWorker());
  });
  afterAll(async () => {
    ctx.worker.shutdown();
    await ctx.running;
    await ctx.h.close();
  });
  return ctx;
}

describe(`no decision: reminder after ${REMINDER_MS} ms, escalation after ${ESCALATION_MS} ms`, () => {
  let district: { committeeId: string; headUserId: string };
  const ctx = useHarness({ approvalReminderAfterMs: REMINDER_MS, approvalEscalationAfterMs: ESCALATION_MS, paymentWindowMs: 60_000 }, async (h) => {
    district = await addCommitteeWithHead(h, h.geo.districtId, 'Test District Committee', 'district-head@party.test');
  });

  test('the committee heads are reminded, then the district committee is asked, and its approval still completes the lifecycle', async () => {
    const { h } = ctx;
    const registered = await registerMember(h, 'waiting@example.np');
    const handle = lifecycleHandle(h, registered.workflowId);

    // The heads are told at once that it arrived, with a link to decide it; the reminder comes after.
    const [arrival] = await h.smtp.waitFor(to('head@party.test', `New membership application ${registered.memberId}`), 1, 15_000);
    expect(arrival?.text).toContain(`/parties/${h.tenant.slug}/inbox?application=${registered.memberId}`);
    const [reminder] = await h.smtp.waitFor(to('head@party.test', `${registered.memberId} awaits a decision`), 1, 15_000);
    expect(reminder?.text).toContain('still waiting for a decision');
    expect((await handle.query(m.statusQuery)).escalated).toBe(false);
    expect(h.smtp.messages.filter(to('district-head@party.test', registered.memberId))).toHaveLength(0);

    const [escalation] = await h.smtp.waitFor(to('district-head@party.test', registered.memberId), 1, 15_000);
    expect(escalation?.text).toContain('escalated to your committee');
    expect(await handle.query(m.statusQuery)).toMatchObject({ stage: 'AwaitingApproval', escalated: true });

    const events = await memberEvents(h, registered.memberId);
    const [registeredAt, remindedAt, escalatedAt] = events.slice(0, 3).map((e) => e.recordedAt);
    expect(events.map((e) => [e.type, e.payload])).toEqual([
      ['MemberRegistered', expect.objectContaining({ committeeId: h.committeeId })],
      ['ApprovalReminderSent', { committeeId: h.committeeId }],
      ['ApprovalEscalated', { fromCommitteeId: h.committeeId, toCommitteeId: district.committeeId }],
    ]);
    expect(remindedAt! - registeredAt!).toBeGreaterThanOrEqual(REMINDER_MS);
    expect(escalatedAt! - registeredAt!).toBeGreaterThanOrEqual(ESCALATION_MS);

    await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${district.headUserId}` });
    await sendLifecycleUpdate(h.client, registered.workflowId, m.paymentReceivedUpdate, paymentFor(await awaitInvoice(handle)));
    const result = await handle.result();
    expect(result).toMatchObject({ stage: 'CardIssued', escalated: true });
    expect((await memberEvents(h, registered.memberId)).slice(3).map((e) => e.type))
      .toEqual(['MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted', 'IdCardIssued']);
    expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'active', memberNumber: result.memberNumber });
    expect(h.smtp.messages.filter(to('head@party.test', `${registered.memberId} awaits a decision`))).toHaveLength(1);
    expect(h.smtp.messages.filter(to('head@party.test', `New membership application ${registered.memberId}`))).toHaveLength(1);
  }, 60_000);
});

describe(`no payment: the invoice expires after ${PAYMENT_WINDOW_MS} ms`, () => {
  const ctx = useHarness({ paymentWindowMs: PAYMENT_WINDOW_MS });

  test('the invoice is voided, the member lapses and is told so, and the lifecycle ends Expired', async () => {
    const { h } = ctx;
    const registered = await registerMember(h, 'unpaid@example.np');
    await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
    const handle = lifecycleHandle(h, registered.workflowId);
    const invoice = await awaitInvoice(handle);

    const result = await handle.result();
    expect(result.stage).toBe('Expired');
    expect(result.memberNumber).toBeNull();
    expect(stageAt(result, 'Expired') - stageAt(result, 'AwaitingPayment')).toBeGreaterThanOrEqual(PAYMENT_WINDOW_MS);

    const stored = await asTest(h, (tx) =>
      tx.one(sql.type(z.object({ status: z.string(), voided: z.boolean() }))`
        SELECT status::text AS status, voided_at IS NOT NULL AS voided FROM invoices WHERE id = ${invoice.invoiceId}`));
    expect(stored).toEqual({ status: 'void', voided: true });
    expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'expired', memberNumber: null });
    expect(await rowCount(h, 'payments', registered.memberId)).toBe(0);
    const events = await memberEvents(h, registered.memberId);
    expect(events.map((e) => [e.type, e.payload])).toEqual([
      ['MemberRegistered', expect.anything()],
      ['MemberApproved', expect.anything()],
      ['InvoiceIssued', expect.objectContaining({ invoiceId: invoice.invoiceId })],
      ['InvoiceVoided', { invoiceId: invoice.invoiceId, reason: 'expired' }],
      ['MemberLapsed', { invoiceId: invoice.invoiceId }],
    ]);

    const lapsed = h.smtp.messages.filter(to('unpaid@example.np', 'has lapsed'));
    expect(lapsed).toHaveLength(1);
    expect(lapsed[0]?.text).toContain(invoice.invoiceId);
  }, 60_000);
});
