import { randomBytes, randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate } from '../../src/members/lifecycle-contract.ts';
import { gatewayAccount, setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { startGatewayPayment } from '../../src/payments/gateway-payments.ts';
import { ESEWA_SANDBOX_MERCHANT } from '../../src/payments/gateways/esewa.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../../src/payments/gateways/simulators/khalti-simulator.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';
import { insertAttempt, type PaymentAttempt } from '../../src/payments/payment-attempts.ts';
import { addReconciliationItem } from '../../src/payments/reconciliation.ts';
import { PAYMENT_RECONCILIATION_SCHEDULE_ID, PAYMENT_RECONCILIATION_WORKFLOW, type ReconciliationRunReport } from '../../src/payments/reconciliation-run.ts';
import { ensurePaymentReconciliationSchedule } from '../../src/temporal/schedules.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { runOperatorCli } from '../support/cli-process.ts';
import { asTest, awaitInvoice, lifecycleHandle, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

/**
 * The daily reconciliation run on a real Temporal dev server and Postgres (the application
 * role), asking both gateways' simulators over real HTTP: states forced in the simulators, the
 * workflow run, its differences in the queue once however often it runs.
 */
let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let sims: GatewaySimulators;
let today: string;
/** The attempts by what the gateway will say about them. */
const attempts: Record<string, PaymentAttempt> = {};

const URLS = { success: 'https://members.test/paid', failure: 'https://members.test/not-paid', website: 'https://members.test' };

async function control(gateway: 'esewa' | 'khalti', path: string, body?: unknown): Promise<void> {
  const base = gateway === 'esewa' ? sims.esewaBaseUrl : new URL('../../', sims.khaltiBaseUrl).toString();
  const res = await fetch(new URL(`__control/${path}`, base), body === undefined ? { method: 'DELETE' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${gateway} control ${path}: ${res.status} ${await res.text()}`);
}

/**
 * An attempt at the member's invoice, opened with the gateway's simulator (eSewa: the form posted as a browser would) and left in `state`;
 * its verification over (settled), unless `verifying`.
 */
async function attempt(name: string, gateway: 'esewa' | 'khalti', invoice: { memberId: string; invoiceId: string; amountMinor: number }, state: string | null, verifying = false) {
  const account = (await asTest(h, (tx) => gatewayAccount(tx, h.keyring, gateway)))!;
  const id = randomUUID();
  const started = await startGatewayPayment(account, { id, amountMinor: invoice.amountMinor, invoiceId: invoice.invoiceId }, URLS);
  if (gateway === 'esewa') {
    const posted = await fetch(started.redirect.url, { method: 'POST', body: new URLSearchParams(started.redirect.fields!), redirect: 'manual' });
    expect(posted.status).toBeLessThan(400);
  }
  await asTest(h, (tx) => insertAttempt(tx, {
    id, tenantId: h.tenant.id, memberId: invoice.memberId, invoiceId: invoice.invoiceId, gateway, amountMinor: invoice.amountMinor, currency: 'NPR',
    reference: started.reference, workflowId: `payment-${h.tenant.id}-${id}`, expiresAt: new Date(Date.now() + 3_600_000),
  }));
  if (!verifying) await asTest(h, (tx) => tx.query(sql.unsafe`UPDATE payment_attempts SET settled_at = now() WHERE id = ${id}`));
  if (state) await control(gateway, `transactions/${started.reference}`, { state });
  attempts[name] = (await asTest(h, (tx) => tx.one(sql.type(z.object({ reference: z.string() }))`SELECT reference FROM payment_attempts WHERE id = ${id}`)).then(({ reference }) => ({
    id, tenantId: h.tenant.id, memberId: invoice.memberId, invoiceId: invoice.invoiceId, gateway, amountMinor: invoice.amountMinor, currency: 'NPR', reference,
  }))) as PaymentAttempt;
}

/** A payment recorded for the attempt's transaction (as the verification workflow records one). */
const recordedPayment = (a: PaymentAttempt) => asTest(h, (tx) => tx.query(sql.unsafe`
  INSERT INTO payments (tenant_id, invoice_id, member_id, amount_minor, currency, provider, provider_ref, paid_at)
  VALUES (${h.tenant.id}, ${a.invoiceId}, ${a.memberId}, ${a.amountMinor}, 'NPR', ${a.gateway}, ${a.reference}, now())`));

const run = async (day?: string) => (await h.client.workflow.start(PAYMENT_RECONCILIATION_WORKFLOW, {
  taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: `payment-reconciliation-test-${randomUUID()}`, args: day ? [{ day }] : [],
})).result() as Promise<ReconciliationRunReport>;

const Item = z.object({ reference: z.string(), reason: z.string(), attemptId: z.string().nullable(), amountMinor: z.coerce.number(), detail: z.string() });
const items = () => asTest(h, (tx) => tx.any(sql.type(Item)`
  SELECT reference, reason, attempt_id AS "attemptId", amount_minor AS "amountMinor", detail FROM payment_reconciliation_items ORDER BY detected_at, reference`));
const runRows = () => asTest(h, (tx) => tx.any(sql.type(z.object({ day: z.string(), gateway: z.string(), attempts: z.number(), differences: z.number(), unreachable: z.number(), finishedAt: z.number() }))`
  SELECT to_char(day, 'YYYY-MM-DD') AS day, gateway, attempts, differences, unreachable, finished_at AS "finishedAt" FROM payment_reconciliation_runs ORDER BY day, gateway`));

beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 3_600_000 });
  ({ worker, running } = await h.startWorker());
  sims = await startGatewaySimulators();
  await asTest(h, async (tx) => {
    await setGatewayAccount(tx, h.keyring, h.tenant.id, { gateway: 'esewa', environment: 'simulator', baseUrl: sims.esewaBaseUrl, merchantCode: ESEWA_SANDBOX_MERCHANT.productCode, secret: ESEWA_SANDBOX_MERCHANT.secretKey });
    await setGatewayAccount(tx, h.keyring, h.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY });
  });
  const member = await registerMember(h, `${randomBytes(4).toString('hex')}@example.np`);
  await sendLifecycleUpdate(h.client, member.workflowId, approveUpdate, { by: 'user:test' });
  const invoice = { memberId: member.memberId, ...await awaitInvoice(lifecycleHandle(h, member.workflowId)) };
  await attempt('esewaPaidUnrecorded', 'esewa', invoice, 'COMPLETE');
  await attempt('esewaPaidRecorded', 'esewa', invoice, 'COMPLETE');
  await attempt('esewaPending', 'esewa', invoice, null);
  await attempt('esewaRefundedUnrecorded', 'esewa', invoice, 'FULL_REFUND');
  await attempt('khaltiRefundedRecorded', 'khalti', invoice, 'Refunded');
  await attempt('khaltiPartlyRefundedRecorded', 'khalti', invoice, 'Partially Refunded');
  await attempt('khaltiPaidQueued', 'khalti', invoice, 'Completed');
  await attempt('khaltiCanceled', 'khalti', invoice, 'User canceled');
  // Paid, and its workflow still verifying it (say, waiting out an outage): not the run's to conclude.
  await attempt('esewaStillVerifying', 'esewa', invoice, 'COMPLETE', true);
  for (const name of ['esewaPaidRecorded', 'khaltiRefundedRecorded', 'khaltiPartlyRefundedRecorded']) await recordedPayment(attempts[name]!);
  // The verification workflow already queued this one (it paid an invoice no longer open): not a difference of the run's.
  const queued = attempts.khaltiPaidQueued!;
  await asTest(h, (tx) => addReconciliationItem(tx, { tenantId: h.tenant.id, gateway: 'khalti', reference: queued.reference!, attemptId: queued.id, memberId: queued.memberId,
    amountMinor: queued.amountMinor, currency: 'NPR', reason: 'invoice_not_open', detail: 'paid after the invoice closed' }));
  today = dateIn(h.tenant.timeZone, new Date());
}, 120_000);
afterAll(async () => {
  await sims.close();
  worker.shutdown();
  await running;
  await h.close();
});

test("the run asks each gateway about the day's attempts: what the gateway took and we did not record, and a refund of what we recorded, are queued once", async () => {
  const first = await run(today);
  expect(first).toEqual({ parties: 1, gateways: 2, attempts: 9, differences: 3, unreachable: 1 });
  const differences = (await items()).filter((i) => i.reason === 'gateway_differs');
  expect(differences.map((i) => [i.attemptId, i.amountMinor]).sort()).toEqual(
    [attempts.esewaPaidUnrecorded!, attempts.khaltiRefundedRecorded!, attempts.khaltiPartlyRefundedRecorded!].map((a) => [a.id, a.amountMinor]).sort());
  expect(differences.find((i) => i.attemptId === attempts.esewaPaidUnrecorded!.id)?.detail).toMatch(/^esewa reports COMPLETE \(its transaction \w+\) for 50000 paisa, but no payment is recorded for it$/);
  expect(differences.find((i) => i.attemptId === attempts.khaltiRefundedRecorded!.id)?.detail).toMatch(/^khalti reports Refunded .*, but payment [0-9a-f-]{36} is recorded for invoice /);
  const rows = await runRows();
  expect(rows.map(({ finishedAt: _, ...r }) => r)).toEqual([
    { day: today, gateway: 'esewa', attempts: 5, differences: 1, unreachable: 1 },
    { day: today, gateway: 'khalti', attempts: 4, differences: 2, unreachable: 0 },
  ]);

  // Run again: the same differences, no new item, the day's counts overwritten.
  const before = await items();
  expect(await run(today)).toEqual(first);
  expect(await items()).toEqual(before);
  const again = await runRows();
  expect(again.map(({ finishedAt: _, ...r }) => r)).toEqual(rows.map(({ finishedAt: _, ...r }) => r));
  expect(again[0]!.finishedAt).toBeGreaterThan(rows[0]!.finishedAt);
});

test("a gateway outage counts the day's attempts as unreachable and concludes nothing; the report prints the runs", async () => {
  const before = await items();
  await control('khalti', 'outage', { mode: 'unavailable' });
  try {
    expect(await run(today)).toEqual({ parties: 1, gateways: 2, attempts: 9, differences: 1, unreachable: 5 });
  } finally {
    await control('khalti', 'outage');
  }
  expect(await items()).toEqual(before);
  const report = await runOperatorCli(['reconciliation:report', '--tenant', h.tenant.slug, '--day', today],
    { DATA_DIR: process.env.TEST_TMP_DIR ?? '/tmp', DATABASE_URL: h.db.appUrl });
  expect(report).toMatchObject({ code: 0, stderr: '' });
  expect(report.stdout.split('\n').slice(2, 4).map((l) => l.trim().split(/\s+/).slice(0, 4))).toEqual([['esewa', '5', '1', '1'], ['khalti', '4', '0', '4']]);
  const none = await runOperatorCli(['reconciliation:report', '--tenant', h.tenant.slug, '--day', '2020-01-01'], { DATA_DIR: '/tmp', DATABASE_URL: h.db.appUrl });
  expect(none.stdout).toBe(`No reconciliation run of ${h.tenant.slug} for 2020-01-01\n`);
});

test("the daily Schedule starts the run, which compares each party's previous day", async () => {
  await ensurePaymentReconciliationSchedule(h.client, { hour: 1, minute: 30 });
  // A second worker start finds the Schedule and takes the time given now.
  await ensurePaymentReconciliationSchedule(h.client, { hour: 2, minute: 15 });
  const schedule = h.client.schedule.getHandle(PAYMENT_RECONCILIATION_SCHEDULE_ID);
  try {
    const described = await schedule.describe();
    expect(described.spec.calendars).toMatchObject([{ hour: [{ start: 2, end: 2 }], minute: [{ start: 15, end: 15 }] }]);
    expect(described.spec.timezone).toBe('Asia/Kathmandu');
    await schedule.trigger();
    let started: string | undefined;
    for (let i = 0; i < 100 && !started; i++) {
      started = (await schedule.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
      if (!started) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const report = await h.client.workflow.getHandle(started!).result() as ReconciliationRunReport;
    // Today's attempts are not yesterday's: the run compared none, and recorded that it ran.
    expect(report).toEqual({ parties: 1, gateways: 2, attempts: 0, differences: 0, unreachable: 0 });
    const yesterday = addDays(today, -1);
    expect((await runRows()).filter((r) => r.day === yesterday).map((r) => [r.gateway, r.attempts])).toEqual([['esewa', 0], ['khalti', 0]]);
  } finally {
    await schedule.delete();
  }
});
