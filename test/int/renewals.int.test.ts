import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { recordPayment } from '../../src/payments/record-payment.ts';
import { startRenewal } from '../../src/renewals/renewal-client.ts';
import { formatPartyDate } from '../../src/calendar/bikram-sambat.ts';
import { splitDues } from '../../src/finance/dues-split.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import * as r from '../../src/renewals/renewal-contract.ts';
import { recountStatistics } from '../../src/statistics/member-statistics.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn, memberStanding, termsOf } from '../../src/terms/term-ledger.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import { findTenant, type Tenant } from '../../src/tenants/tenants.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { runOperatorCli } from '../support/cli-process.ts';
import { admitMember, asTest, memberEvents, memberRow, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

/**
 * Renewal, lapse and reinstatement on a real Temporal dev server, Postgres (as the application
 * role) and SMTP. Terms last a year, so the worker's clock is moved: the activities read the day
 * from it, and the workflow's timers run from the durations they return, so a lapse due "in 60
 * days" is due in seconds when the clock stands seconds before it.
 */
let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let tenant: Tenant;

/** Moves the worker's clock so that now is `at`, and lets it run on from there. */
function setClock(at: Date): void {
  const offset = at.getTime() - Date.now();
  h.deps.clock = () => new Date(Date.now() + offset);
}
const midnightIn = async (day: string) => new Date(await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ at: z.number() }))`
  SELECT (${day}::date::timestamp AT TIME ZONE ${tenant.timeZone}) AS at`)));

const context = () => ({ tenantId: h.tenant.id, actor: 'user:treasurer' });
const claimFor = (memberId: string, invoice: { invoiceId: string; amountMinor: number; currency: string }, reference: string) =>
  ({ memberId, invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'manual', reference, paidAt: new Date().toISOString() });

const renewalHandle = (memberId: string, term: number): WorkflowHandle =>
  h.client.workflow.getHandle(r.renewalWorkflowId(h.tenant.id, memberId, term));

async function awaitStage(handle: WorkflowHandle, stage: r.RenewalStatus['stage']): Promise<r.RenewalStatus> {
  for (let i = 0; i < 300; i++) {
    const status = await handle.query(r.renewalStatusQuery);
    if (status.stage === stage) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${handle.workflowId} never reached ${stage}`);
}

const Card = z.object({ validUntil: z.string(), revocationReason: z.string().nullable() });
const cardsOf = (memberId: string) => asTest(h, (tx) => tx.any(sql.type(Card)`
  SELECT to_char(valid_until, 'YYYY-MM-DD') AS "validUntil", revocation_reason AS "revocationReason" FROM id_cards WHERE member_id = ${memberId} ORDER BY issued_at`));
const invoiceStatus = (invoiceId: string) => asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ status: z.string() }))`SELECT status::text AS status FROM invoices WHERE id = ${invoiceId}`));
const mailsTo = (address: string) => h.smtp.messages.filter((mail) => [mail.to ?? []].flat().some((to) => to.value.some((v) => v.address === address)));
const eventTypes = async (memberId: string) => (await memberEvents(h, memberId)).map((e) => e.type);

/** The text of a PDF, as poppler's pdftotext reads it. */
async function pdfText(pdf: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('pdftotext', ['-', '-'], { encoding: 'utf8' }, (err, stdout) => (err ? reject(new Error(`pdftotext: ${err.message}`)) : resolve(stdout)));
    child.stdin!.end(pdf);
  });
}

async function runRenewals(): Promise<r.RenewalRunReport> {
  const handle = await h.client.workflow.start(r.RENEWAL_RUN_WORKFLOW, { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: `renewal-run-${Date.now()}`, args: [] });
  return (await handle.result()) as r.RenewalRunReport;
}

async function expectStatisticsEqualRecount(): Promise<void> {
  expect(await asTest(h, (tx) => recountStatistics(tx, h.tenant.id))).toEqual({ correctedRows: 0 });
}

beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 60_000 });
  // An awkward renewal fee: 10001 paisa does not divide by the shares.
  await changeTenantSettings(h.db.owner, h.tenant.slug, { renewalFeeMinor: 10_001 }, 'test');
  tenant = (await findTenant(h.db.owner, h.tenant.id))!;
  ({ worker, running } = await h.startWorker());
}, 120_000);
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
});

test('the daily run starts each due renewal once; paid early, the term extends from paid-until with a new card, and the payment is split exactly', async () => {
  const memberId = await admitMember(h, 'renews@example.np');
  const other = await admitMember(h, 'renews-later@example.np');
  const [first] = await asTest(h, (tx) => termsOf(tx, memberId));
  // Ten days before the term ends: within the 30 days' notice.
  setClock(await midnightIn(addDays(first!.endsOn, -10)));

  const run = await runRenewals();
  expect(run).toMatchObject({ due: 2, started: 2, alreadyStarted: 0 });
  const opened = await awaitStage(renewalHandle(memberId, 1), 'AwaitingRenewalPayment');
  await awaitStage(renewalHandle(other, 1), 'AwaitingRenewalPayment');
  expect(opened.invoice).toMatchObject({ amountMinor: 10_001, currency: 'NPR' });
  // The next run finds both renewals started: nothing is due twice.
  expect(await runRenewals()).toMatchObject({ due: 0, started: 0 });
  // A start by staff for the same term is the same workflow.
  expect(await startRenewal(h.client, h.tenant.id, memberId, 1, 'user:staff')).toBe(false);

  const invoice = opened.invoice!;
  // The wrong amount is refused naming the field, and changes nothing.
  await expect(recordPayment({ pool: h.db.app, temporal: h.client }, context(), { ...claimFor(memberId, invoice, 'R-1'), amount: 10_000 }))
    .rejects.toMatchObject({ code: 'PAYMENT_AMOUNT_MISMATCH', field: 'amount' });
  const { payment, existed } = await recordPayment({ pool: h.db.app, temporal: h.client }, context(), claimFor(memberId, invoice, 'R-2'));
  expect(existed).toBe(false);
  // The same reference again is the same payment.
  const again = await recordPayment({ pool: h.db.app, temporal: h.client }, context(), claimFor(memberId, invoice, 'R-2'));
  expect(again).toMatchObject({ existed: true, payment: { id: payment.id } });
  expect(await renewalHandle(memberId, 1).result()).toEqual({ outcome: 'renewed' });

  const terms = await asTest(h, (tx) => termsOf(tx, memberId));
  expect(terms).toHaveLength(2);
  expect(terms[1]).toMatchObject({ termNumber: 2, startsOn: first!.endsOn, paymentId: payment.id, source: 'renewal', waived: false });
  expect(await cardsOf(memberId)).toEqual([
    { validUntil: expect.any(String), revocationReason: 'superseded' },
    { validUntil: addDays(terms[1]!.endsOn, -1), revocationReason: null },
  ]);
  // The card shows its date in the party's calendar (Bikram Sambat by default).
  const cardText = await pdfText(Buffer.from(await h.deps.storage.get(idCardKey(h.tenant.slug, memberId))));
  expect(cardText).toContain(formatPartyDate(addDays(terms[1]!.endsOn, -1), 'BS'));
  const allocations = await asTest(h, (tx) => tx.anyFirst(sql.type(z.object({ amount: z.number() }))`
    SELECT amount_minor::float8 AS amount FROM dues_allocations WHERE payment_id = ${payment.id} ORDER BY level`));
  const split = splitDues(10_001, tenant.duesSplit);
  expect(allocations).toEqual([split.national, split.province, split.district, split.localLevel]);
  expect(allocations.reduce((a, b) => a + b, 0)).toBe(10_001);
  expect(await eventTypes(memberId)).toEqual(expect.arrayContaining(['RenewalInvoiceIssued', 'RenewalPaymentReceived', 'TermStarted', 'IdCardRevoked', 'IdCardIssued']));
  expect((await memberRow(h, memberId)).status).toBe('active');
  // The renewal invoice, then the renewal with the new card.
  const mails = mailsTo('renews@example.np').map((m) => m.subject);
  expect(mails).toEqual(expect.arrayContaining([expect.stringMatching(/^Membership renewal invoice .*: NPR 100\.01 due by/), 'Your membership of Test Party is renewed']));
  const renewed = mailsTo('renews@example.np').find((m) => m.subject === 'Your membership of Test Party is renewed')!;
  expect(renewed.attachments.map((a) => a.contentType)).toEqual(['application/pdf']);
  await expectStatisticsEqualRecount();
}, 120_000);

test('unpaid when the grace period ends, the member lapses (card revoked, statistics move, email); paying within the window reinstates them with the same number', async () => {
  const memberId = await admitMember(h, 'lapses@example.np');
  const numberBefore = (await memberRow(h, memberId)).memberNumber;
  const [first] = await asTest(h, (tx) => termsOf(tx, memberId));
  const lapseDay = addDays(first!.endsOn, tenant.gracePeriodDays);
  setClock(new Date((await midnightIn(lapseDay)).getTime() - 3_000));

  expect(await startRenewal(h.client, h.tenant.id, memberId, 1, 'user:staff')).toBe(true);
  const handle = renewalHandle(memberId, 1);
  const lapsed = await awaitStage(handle, 'TermLapsed');
  expect((await memberRow(h, memberId)).status).toBe('lapsed');
  expect((await cardsOf(memberId)).map((c) => c.revocationReason)).toEqual(['lapsed']);
  expect((await asTest(h, (tx) => memberStanding(tx, memberId, tenant, dateIn(tenant.timeZone, h.deps.clock())))).standing).toBe('lapsed');
  expect(await eventTypes(memberId)).toEqual(expect.arrayContaining(['MemberTermLapsed']));
  await expectStatisticsEqualRecount();
  // The invoice stays open through the reinstatement window.
  expect(await invoiceStatus(lapsed.invoice!.invoiceId)).toBe('open');

  await recordPayment({ pool: h.db.app, temporal: h.client }, context(), claimFor(memberId, lapsed.invoice!, 'R-LAPSED'));
  expect(await handle.result()).toEqual({ outcome: 'reinstated' });
  const row = await memberRow(h, memberId);
  expect(row).toMatchObject({ status: 'active', memberNumber: numberBefore });
  const terms = await asTest(h, (tx) => termsOf(tx, memberId));
  // After a lapse, the new term starts on the day it is paid.
  expect(terms[1]).toMatchObject({ termNumber: 2, startsOn: dateIn(tenant.timeZone, h.deps.clock()), source: 'renewal' });
  expect((await cardsOf(memberId)).map((c) => c.revocationReason)).toEqual(['lapsed', null]);
  expect(await eventTypes(memberId)).toEqual(expect.arrayContaining(['MemberReinstated']));
  const subjects = mailsTo('lapses@example.np').map((m) => m.subject);
  expect(subjects).toEqual(expect.arrayContaining(['Your membership of Test Party has lapsed', 'Your membership of Test Party is reinstated']));
  await expectStatisticsEqualRecount();
}, 120_000);

test('after the reinstatement window the renewal invoice is voided and a late payment is refused', async () => {
  await changeTenantSettings(h.db.owner, h.tenant.slug, { reinstatementWindowDays: 0 }, 'test');
  try {
    const memberId = await admitMember(h, 'closes@example.np');
    const [first] = await asTest(h, (tx) => termsOf(tx, memberId));
    setClock(new Date((await midnightIn(addDays(first!.endsOn, tenant.gracePeriodDays))).getTime() - 2_000));
    await startRenewal(h.client, h.tenant.id, memberId, 1, 'user:staff');
    const handle = renewalHandle(memberId, 1);
    expect(await handle.result()).toEqual({ outcome: 'closed' });
    const status = await handle.query(r.renewalStatusQuery);
    expect(await invoiceStatus(status.invoice!.invoiceId)).toBe('void');
    expect((await memberRow(h, memberId)).status).toBe('lapsed');
    const late = recordPayment({ pool: h.db.app, temporal: h.client }, context(), claimFor(memberId, status.invoice!, 'R-LATE'));
    await expect(late).rejects.toBeInstanceOf(MemberRuleError);
    await expect(late).rejects.toMatchObject({ code: 'RENEWAL_NOT_OPEN' });
    expect(await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM payments WHERE member_id = ${memberId}`))).toBe(1);
    await expectStatisticsEqualRecount();
  } finally {
    await changeTenantSettings(h.db.owner, h.tenant.slug, { reinstatementWindowDays: 365 }, 'test');
  }
}, 120_000);

test('the operator reports: what the runs started and where those renewals stand, and each lapse with where the member stands now', async () => {
  const env = { DATA_DIR: process.env.TEST_TMP_DIR ?? '/tmp', DATABASE_URL: h.db.appUrl, MASTER_KEY: randomBytes(32).toString('base64') };
  const today = dateIn(tenant.timeZone, new Date());
  // The runs looked at the worker's (moved) day; the renewals were started today.
  const renewals = await runOperatorCli(['renewals:report', '--tenant', h.tenant.slug, '--from', '2020-01-01', '--to', '2099-12-31'], env);
  expect(renewals.stderr).toBe('');
  expect(renewals.stdout).toContain('runs: 2; members found due: 2; renewals started: 2; already started: 0');
  expect(renewals.stdout).toContain('renewed 1, reinstated 1, lapsed 0, closed 1, not due 0, awaiting payment 1');
  expect(renewals.stdout).toContain('renewal payments: NPR 200.02');
  const lapses = await runOperatorCli(['lapses:report', '--tenant', h.tenant.slug, '--from', addDays(today, -1), '--to', addDays(today, 1)], env);
  expect(lapses.stderr).toBe('');
  const lines = lapses.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/: 2$/);
  expect(lines.filter((l) => l.includes('now active'))).toHaveLength(1);
  expect(lines.filter((l) => l.includes('still lapsed, reinstatable until'))).toHaveLength(1);
  const bad = await runOperatorCli(['lapses:report', '--tenant', h.tenant.slug, '--from', '2026-02-30'], env);
  expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--from') });
}, 60_000);
