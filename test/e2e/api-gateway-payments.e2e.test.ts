import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { withTenant } from '../../src/db/tenant-context.ts';
import { z } from 'zod';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate } from '../../src/members/lifecycle-contract.ts';
import { setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { ESEWA_SANDBOX_MERCHANT } from '../../src/payments/gateways/esewa.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../../src/payments/gateways/simulators/khalti-simulator.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';
import { paymentWorkflowId, type PaymentVerificationOutcome } from '../../src/payments/payment-verification-contract.ts';
import { insertAttempt } from '../../src/payments/payment-attempts.ts';
import { verifyAttempt } from '../../src/payments/payment-client.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { applicationFor, asTest, awaitInvoice, lifecycleHandle } from '../support/lifecycle-harness.ts';

/**
 * Paying through eSewa and Khalti from the status link, over HTTP against a real worker,
 * Temporal dev server and Postgres, with both gateways' local simulators on a real port
 * (docs/payments.md, "eSewa and Khalti"): each attempt is verified by its own workflow asking
 * the gateway, whatever the browser brings back.
 */
let api: ApiHarness & { stop(): Promise<void> };
let sims: GatewaySimulators;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  sims = await startGatewaySimulators();
  await asTest(api, async (tx) => {
    await setGatewayAccount(tx, api.keyring, api.tenant.id, { gateway: 'esewa', environment: 'simulator', baseUrl: sims.esewaBaseUrl,
      merchantCode: ESEWA_SANDBOX_MERCHANT.productCode, secret: ESEWA_SANDBOX_MERCHANT.secretKey });
    await setGatewayAccount(tx, api.keyring, api.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY });
  });
}, 120_000);
afterAll(async () => {
  await sims?.close();
  await api.stop();
});

/** An approved applicant with an open invoice, and their private status link's token. */
async function awaitingPayment() {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:fixture' });
  await awaitInvoice(lifecycleHandle(api, member.workflowId));
  return member;
}

/** The payer's browser posts eSewa's form, as the status page does: eSewa now holds the transaction, pending. */
async function atEsewa(attempt: { attributes: { redirect: { url: string; fields: Record<string, string> } } }): Promise<void> {
  const res = await fetch(attempt.attributes.redirect.url, { method: 'POST', body: new URLSearchParams(attempt.attributes.redirect.fields), redirect: 'manual' });
  await res.body?.cancel();
  expect(res.status).toBeLessThan(400);
}

const pay = (member: { memberId: string; statusToken: string }, gateway: string) =>
  api.request('POST', `/api/parties/${api.tenant.slug}/applications/${member.memberId}/payments?token=${member.statusToken}`,
    { body: { data: { type: 'payment-attempts', attributes: { gateway } } } });
/** The payer's browser back from the gateway (the redirect not followed). */
async function back(gateway: string, query: string) {
  const res = await fetch(`${api.baseUrl}/api/parties/${api.tenant.slug}/payments/${gateway}/return?${query}`, { redirect: 'manual', headers: { accept: 'text/html' } });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get('location') };
}
const outcome = (attemptId: string) => api.client.workflow.getHandle(paymentWorkflowId(api.tenant.id, attemptId)).result() as Promise<PaymentVerificationOutcome>;

const Row = z.object({ status: z.string(), payments: z.number(), items: z.number(), state: z.string().nullable() });
const rowOf = (memberId: string, attemptId: string) => asTest(api, (tx) => tx.one(sql.type(Row)`
  SELECT m.status::text AS status,
         (SELECT count(*)::int FROM payments p WHERE p.member_id = m.id) AS payments,
         (SELECT count(*)::int FROM payment_reconciliation_items r WHERE r.member_id = m.id) AS items,
         (SELECT state FROM payment_attempts a WHERE a.id = ${attemptId}) AS state
  FROM members m WHERE m.id = ${memberId}`));

test('eSewa: paid, the payer comes back, the status API confirms it: one payment, the member proceeds', async () => {
  const member = await awaitingPayment();
  const started = await pay(member, 'esewa');
  expect(started.status).toBe(201);
  const attempt = started.body.data;
  expect(attempt.attributes).toMatchObject({ gateway: 'esewa', amountMinor: 50_000, currency: 'NPR', redirect: { method: 'POST', url: sims.esewaEndpoints.formUrl } });
  expect(attempt.attributes.redirect.fields).toMatchObject({ transaction_uuid: attempt.id, total_amount: '500', product_code: 'EPAYTEST' });
  await atEsewa(attempt);
  sims.esewa.force(attempt.id, 'COMPLETE', 'EPAYTEST');
  const returned = await back('esewa', `attempt=${attempt.id}`);
  expect([returned.status, returned.location]).toEqual([303, `/parties/${api.tenant.slug}/applications/${member.memberId}?payment=${attempt.id}`]);
  expect(await outcome(attempt.id)).toMatchObject({ outcome: 'recorded' });
  // Told again (a second return, a repeated check): still one payment.
  await back('esewa', `attempt=${attempt.id}`);
  await lifecycleHandle(api, member.workflowId).result();
  expect(await rowOf(member.memberId, attempt.id)).toEqual({ status: 'active', payments: 1, items: 0, state: 'complete' });
}, 120_000);

test('Khalti: pending, then completed: held while pending, recorded once completed', async () => {
  const member = await awaitingPayment();
  const started = await pay(member, 'khalti');
  expect(started.status).toBe(201);
  const attempt = started.body.data;
  expect(attempt.attributes.redirect).toMatchObject({ method: 'GET', fields: null });
  const pidx = new URL(attempt.attributes.redirect.url as string).searchParams.get('pidx')!;
  sims.khalti.force(pidx, 'Pending');
  expect((await back('khalti', `pidx=${pidx}&status=Completed`)).status).toBe(303);
  // The browser said Completed; the gateway says Pending: nothing is recorded.
  await waitFor(async () => (await rowOf(member.memberId, attempt.id)).state === 'pending');
  expect(await rowOf(member.memberId, attempt.id)).toMatchObject({ status: 'awaiting_payment', payments: 0 });
  sims.khalti.force(pidx, 'Completed');
  await back('khalti', `pidx=${pidx}`);
  expect(await outcome(attempt.id)).toMatchObject({ outcome: 'recorded' });
  expect(await rowOf(member.memberId, attempt.id)).toMatchObject({ payments: 1, state: 'complete' });
}, 120_000);

test.each([
  ['Khalti, canceled by the payer', 'khalti', (ref: string) => sims.khalti.force(ref, 'User canceled'), 'canceled'],
  ['Khalti, the link expired', 'khalti', (ref: string) => sims.khalti.expire(ref), 'expired'],
  ['eSewa, paid and refunded in full', 'esewa', (ref: string) => sims.esewa.force(ref, 'FULL_REFUND', 'EPAYTEST'), 'refunded'],
  ['eSewa, canceled', 'esewa', (ref: string) => sims.esewa.force(ref, 'CANCELED', 'EPAYTEST'), 'canceled'],
] as const)('%s: nothing is recorded, the invoice stays open', async (_name, gateway, settle, expected) => {
  const member = await awaitingPayment();
  const attempt = (await pay(member, gateway)).body.data;
  if (gateway === 'esewa') await atEsewa(attempt);
  const reference = gateway === 'khalti' ? new URL(attempt.attributes.redirect.url as string).searchParams.get('pidx')! : attempt.id as string;
  settle(reference);
  await back(gateway, gateway === 'khalti' ? `pidx=${reference}` : `attempt=${attempt.id}`);
  expect(await outcome(attempt.id)).toEqual({ outcome: expected });
  expect(await rowOf(member.memberId, attempt.id)).toEqual({ status: 'awaiting_payment', payments: 0, items: 0, state: expected });
  // The invoice is still open: a new attempt may follow.
  expect((await pay(member, gateway)).status).toBe(201);
}, 120_000);

test('a gateway outage in the middle of verification is waited out: the payment is recorded once it answers', async () => {
  const member = await awaitingPayment();
  const attempt = (await pay(member, 'esewa')).body.data;
  await atEsewa(attempt);
  sims.esewa.force(attempt.id, 'COMPLETE', 'EPAYTEST');
  sims.esewa.faults.add({ mode: 'unavailable', count: 2 });
  sims.esewa.faults.add({ mode: 'drop', count: 1 });
  await back('esewa', `attempt=${attempt.id}`);
  expect(await outcome(attempt.id)).toMatchObject({ outcome: 'recorded' });
  expect(await rowOf(member.memberId, attempt.id)).toMatchObject({ payments: 1, state: 'complete' });
  const history = await api.client.workflow.getHandle(paymentWorkflowId(api.tenant.id, attempt.id)).fetchHistory();
  const failedChecks = history.events!.filter((e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1);
  expect(failedChecks.length).toBeGreaterThan(0);
}, 120_000);

test('paid twice (two attempts, both completed): one payment for the invoice, the other in the reconciliation queue', async () => {
  const member = await awaitingPayment();
  const first = (await pay(member, 'esewa')).body.data;
  const second = (await pay(member, 'khalti')).body.data;
  const pidx = new URL(second.attributes.redirect.url as string).searchParams.get('pidx')!;
  await atEsewa(first);
  sims.esewa.force(first.id, 'COMPLETE', 'EPAYTEST');
  await back('esewa', `attempt=${first.id}`);
  expect(await outcome(first.id)).toMatchObject({ outcome: 'recorded' });
  sims.khalti.force(pidx, 'Completed');
  await back('khalti', `pidx=${pidx}`);
  expect(await outcome(second.id)).toEqual({ outcome: 'reconciliation', reason: 'paid_twice' });
  expect(await rowOf(member.memberId, second.id)).toMatchObject({ payments: 1, items: 1, state: 'complete' });
  // Nothing is open now: a third attempt is refused.
  const third = await pay(member, 'esewa');
  expect([third.status, third.body.errors[0].code]).toEqual([409, 'NO_OPEN_INVOICE']);
}, 120_000);

test('eSewa, the payer never reaches the gateway: held while eSewa knows no such transaction, then closed as expired', async () => {
  const member = await awaitingPayment();
  const attempt = (await pay(member, 'esewa')).body.data;
  // The first check lands before any browser posted the form: eSewa answers NOT_FOUND, written down like any answer.
  await waitFor(async () => (await rowOf(member.memberId, attempt.id)).state === 'not_found');
  // An attempt whose time is long over, never posted: its verification asks once more and closes it.
  const late = randomUUID();
  const invoice = await asTest(api, (tx) => tx.one(sql.type(z.object({ id: z.string() }))`SELECT invoice_id AS id FROM payment_attempts WHERE id = ${attempt.id}`));
  await asTest(api, (tx) => insertAttempt(tx, { id: late, tenantId: api.tenant.id, memberId: member.memberId, invoiceId: invoice.id, gateway: 'esewa', amountMinor: 50_000,
    currency: 'NPR', reference: late, workflowId: paymentWorkflowId(api.tenant.id, late), expiresAt: new Date(Date.now() - 3_600_000) }));
  await verifyAttempt(api.client, { tenantId: api.tenant.id, memberId: member.memberId, attemptId: late, expiresAt: new Date(Date.now() - 3_600_000).toISOString() });
  expect(await outcome(late)).toEqual({ outcome: 'expired' });
  expect(await rowOf(member.memberId, late)).toMatchObject({ state: 'expired', payments: 0 });
  const settled = await asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ s: z.boolean() }))`SELECT settled_at IS NOT NULL AS s FROM payment_attempts WHERE id = ${late}`));
  expect(settled).toBe(true);
}, 120_000);

test("the gateway refuses the party's key in the middle of verification: asked again until the account is put right, then recorded", async () => {
  const member = await awaitingPayment();
  const attempt = (await pay(member, 'khalti')).body.data;
  const pidx = new URL(attempt.attributes.redirect.url as string).searchParams.get('pidx')!;
  const khalti = (secret: string) => asTest(api, (tx) => setGatewayAccount(tx, api.keyring, api.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret }));
  await khalti('live_secret_key_rotated_elsewhere');
  try {
    sims.khalti.force(pidx, 'Completed');
    await back('khalti', `pidx=${pidx}`);
    const handle = api.client.workflow.getHandle(paymentWorkflowId(api.tenant.id, attempt.id));
    await waitFor(async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2));
    expect((await handle.describe()).status.name).toBe('RUNNING');
  } finally {
    await khalti(KHALTI_SIMULATOR_SECRET_KEY);
  }
  expect(await outcome(attempt.id)).toMatchObject({ outcome: 'recorded' });
  expect(await rowOf(member.memberId, attempt.id)).toMatchObject({ payments: 1, state: 'complete' });
}, 120_000);

test('refused: a gateway the party does not take (naming the field), a wrong link, a forged return', async () => {
  const member = await awaitingPayment();
  // The application may not delete an account (migration 0033): as the owner, the party stops taking Khalti.
  await withTenant(api.db.owner, { tenantId: api.tenant.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`DELETE FROM payment_gateway_accounts WHERE gateway = 'khalti'`));
  try {
    const untaken = await pay(member, 'khalti');
    expect([untaken.status, untaken.body.errors[0].code, untaken.body.errors[0].source]).toEqual([422, 'GATEWAY_NOT_TAKEN', { pointer: '/data/attributes/gateway' }]);
  } finally {
    await asTest(api, (tx) => setGatewayAccount(tx, api.keyring, api.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY }));
  }
  expect((await pay({ ...member, statusToken: 'x'.repeat(32) }, 'esewa')).status).toBe(404);
  expect((await back('esewa', `data=${Buffer.from(JSON.stringify({ transaction_uuid: randomUUID(), status: 'COMPLETE' })).toString('base64')}`)).status).toBe(404);
  expect((await back('esewa', `attempt=${randomUUID()}`)).status).toBe(404);
  expect((await back('khalti', 'pidx=NoSuchPidx')).status).toBe(404);
  expect(await rowOf(member.memberId, randomUUID())).toMatchObject({ status: 'awaiting_payment', payments: 0 });
}, 120_000);

async function waitFor(ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
