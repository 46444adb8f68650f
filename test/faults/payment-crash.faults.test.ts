import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { ESEWA_SANDBOX_MERCHANT } from '../../src/payments/gateways/esewa.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../../src/payments/gateways/simulators/khalti-simulator.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';
import { paymentWorkflowId } from '../../src/payments/payment-verification-contract.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { call, inParallel, sleep, type Answer } from './support/api-client.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';
import { approve, awaitInvoice } from './support/lifecycles.ts';

/**
 * Payments through eSewa and Khalti while the worker is SIGKILLed again and again: every
 * applicant pays from the status link, the gateway (slowed down, so kills land in the middle of
 * its checks) completes each payment, the payer comes back. Afterwards each member has exactly
 * one payment, each attempt names it, nothing went to reconciliation, and every member is active.
 */
const MEMBERS = 24;
const KILLS = 6;

let stack: FaultStack;
let sims: GatewaySimulators;
beforeAll(async () => {
  stack = await startFaultStack('payment-crash');
  sims = await startGatewaySimulators();
  await withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, async (tx) => {
    await setGatewayAccount(tx, stack.party.keyring, stack.party.tenant.id, { gateway: 'esewa', environment: 'simulator', baseUrl: sims.esewaBaseUrl,
      merchantCode: ESEWA_SANDBOX_MERCHANT.productCode, secret: ESEWA_SANDBOX_MERCHANT.secretKey });
    await setGatewayAccount(tx, stack.party.keyring, stack.party.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY });
  });
}, 120_000);
afterAll(async () => {
  await sims?.close();
  await stack?.close();
});

/** What a dead worker or a restart leaves unanswered: tried again. */
const TRANSIENT = (a: Answer) => a.status === 0 || a.status >= 500 || a.status === 429;

async function retrying(what: string, attempt: () => Promise<Answer>, done: (a: Answer) => boolean): Promise<Answer> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const answer = await attempt();
    if (done(answer)) return answer;
    if (!TRANSIENT(answer) || Date.now() > deadline) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    await sleep(1_000);
  }
}

/** An applicant, approved, with an invoice to pay: the member id and the private status link. */
async function awaitingPayment(index: number): Promise<{ memberId: string; link: URL }> {
  const body = { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: `Payer ${index}`, gender: 'M', phone: `98${String(47_000_000 + index)}`, email: `payer.${index}@example.np`, wardId: stack.party.geo.wardIds[1] } } };
  const applied = await retrying(`apply ${index}`, () => call(stack.apiUrl, 'POST', `/api/parties/${stack.party.tenant.slug}/applications`,
    { body, headers: { 'idempotency-key': `payment-crash-payer-${index}`, 'x-forwarded-for': `127.2.0.${index}` } }), (a) => a.status === 201);
  const memberId = applied.body.data.id as string;
  await approve(stack, memberId);
  await awaitInvoice(stack, memberId);
  return { memberId, link: new URL(applied.body.data.links.status as string) };
}

/** Pays from the link through the gateway, which completes the payment; the payer's browser comes back. @returns the attempt id. */
async function payThrough(member: { memberId: string; link: URL }, gateway: 'esewa' | 'khalti'): Promise<string> {
  const started = await retrying(`pay ${member.memberId}`, () => call(stack.apiUrl, 'POST', `${member.link.pathname}/payments${member.link.search}`,
    { body: { data: { type: 'payment-attempts', attributes: { gateway } } } }), (a) => a.status === 201);
  const attempt = started.body.data as { id: string; attributes: { redirect: { url: string; fields: Record<string, string> | null } } };
  let back: string;
  if (gateway === 'esewa') {
    const form = await fetch(attempt.attributes.redirect.url, { method: 'POST', body: new URLSearchParams(attempt.attributes.redirect.fields!), redirect: 'manual' });
    await form.body?.cancel();
    sims.esewa.force(attempt.id, 'COMPLETE', ESEWA_SANDBOX_MERCHANT.productCode);
    back = `attempt=${attempt.id}`;
  } else {
    const pidx = new URL(attempt.attributes.redirect.url).searchParams.get('pidx')!;
    sims.khalti.force(pidx, 'Completed');
    back = `pidx=${pidx}`;
  }
  await retrying(`return ${attempt.id}`, () => call(stack.apiUrl, 'GET', `/api/parties/${stack.party.tenant.slug}/payments/${gateway}/return?${back}`, { redirect: 'manual' }),
    (a) => a.status === 303);
  return attempt.id;
}

const Outcome = z.object({ memberId: z.string(), status: z.string(), payments: z.number(), attempts: z.number(), settled: z.number(), items: z.number() });

test('SIGKILLed again and again while gateway payments are verified: each member has exactly one payment, and nothing is left in reconciliation', async () => {
  const members = await inParallel(Array.from({ length: MEMBERS }, (_, i) => i), 4, awaitingPayment);
  // Each status check takes a while, so the kills land in the middle of verifications.
  sims.esewa.faults.add({ mode: 'delay', delayMs: 400 });
  sims.khalti.faults.add({ mode: 'delay', delayMs: 400 });

  let paying = true;
  const killing = (async () => {
    const kills: number[] = [];
    while (kills.length < KILLS && paying) {
      await sleep(700 + Math.floor(Math.random() * 1_500));
      await stack.worker.kill('SIGKILL');
      kills.push(Date.now());
      await stack.worker.start(WORKER_READY);
    }
    return kills;
  })();
  const attempts = await inParallel(members, 4, async (member, i) => {
    await sleep(i * 150);
    return payThrough(member, i % 2 === 0 ? 'esewa' : 'khalti');
  });
  paying = false;
  const kills = await killing;
  expect(kills.length).toBeGreaterThan(0);

  const results = await Promise.all(attempts.map((id) => stack.client.workflow.getHandle(paymentWorkflowId(stack.party.tenant.id, id)).result()));
  expect(results.every((r) => (r as { outcome: string }).outcome === 'recorded')).toBe(true);
  const settledAll = async () => withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, (tx) => tx.any(sql.type(Outcome)`
    SELECT m.id AS "memberId", m.status::text AS status,
      (SELECT count(*)::int FROM payments p WHERE p.member_id = m.id) AS payments,
      (SELECT count(*)::int FROM payment_attempts a WHERE a.member_id = m.id) AS attempts,
      (SELECT count(*)::int FROM payment_attempts a JOIN payments p ON p.id = a.payment_id WHERE a.member_id = m.id AND a.state = 'complete') AS settled,
      (SELECT count(*)::int FROM payment_reconciliation_items r WHERE r.member_id = m.id) AS items
    FROM members m ORDER BY m.registered_at`));
  // The lifecycles finish once a worker runs them: activation and the card after the payment.
  const deadline = Date.now() + 300_000;
  let outcomes = await settledAll();
  while (outcomes.some((o) => o.status !== 'active') && Date.now() < deadline) {
    await sleep(1_000);
    outcomes = await settledAll();
  }
  expect(outcomes).toHaveLength(MEMBERS);
  expect(outcomes.filter((o) => o.status !== 'active' || o.payments !== 1 || o.attempts !== 1 || o.settled !== 1 || o.items !== 0)).toEqual([]);
  process.stdout.write(`payment-crash: ${MEMBERS} gateway payments verified through ${kills.length} SIGKILLs of the worker, one payment each\n`);
}, 900_000);
