import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { approveUpdate, statusQuery } from '../../src/members/lifecycle-contract.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeTenant } from '../support/fixtures.ts';
import { makeWebhookSecret } from '../support/webhooks.ts';
import { endWebhookSecretOverlap, rotateWebhookSecret } from '../../src/payments/webhook-secrets.ts';
import { applicationFor, awaitInvoice, lifecycleHandle, memberEvents } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let treasurer: string;
let other: Tenant;
let esewa: string;
let otherEsewa: string;
const otherWorkflows: string[] = [];

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 600_000 });
  treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  esewa = await api.webhookSecret('esewa');
  otherEsewa = await makeWebhookSecret(api.db.app, api.keyring, other.id, 'esewa');
});
afterAll(async () => {
  await Promise.all(otherWorkflows.map((id) => api.client.workflow.getHandle(id).terminate('test finished').catch(() => undefined)));
  await api.stop();
});

/** A member of `tenantId` (the harness party unless given) whose lifecycle waits for payment. */
async function awaitingPayment(tenantId = api.tenant.id, approve = true) {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenantId, applicationFor(api, `${randomUUID()}@example.np`));
  if (tenantId !== api.tenant.id) otherWorkflows.push(member.workflowId);
  if (!approve) return { ...member, invoice: { invoiceId: randomUUID(), amountMinor: 50_000, currency: 'NPR' } };
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  return { ...member, invoice: await awaitInvoice(lifecycleHandle(api, member.workflowId)) };
}

interface PaymentAnswer extends Omit<ApiResponse, 'body'> {
  body: { data: { id: string; attributes: Record<string, unknown> }; errors: { code: string; source?: { pointer?: string } }[] };
}
const answer = (res: Promise<ApiResponse>) => res as Promise<PaymentAnswer>;
const paymentsOf = (memberId: string, tenantId = api.tenant.id) => withTenant(api.db.app, { tenantId, actor: 'test' }, (tx) =>
  tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM payments WHERE member_id = ${memberId}`));
const stageOf = (workflowId: string) => lifecycleHandle(api, workflowId).query(statusQuery).then((s) => s.stage);
const manual = (member: { memberId: string; invoice: { invoiceId: string; amountMinor: number; currency: string } }, attributes: Record<string, unknown> = {}, token = treasurer) =>
  answer(api.request('POST', `/api/members/${member.memberId}/payments`, { token, body: { data: { type: 'payments', attributes: {
    invoiceId: member.invoice.invoiceId, amount: member.invoice.amountMinor, currency: member.invoice.currency,
    reference: `RCPT-${randomUUID()}`, paidAt: new Date().toISOString(), ...attributes } } } }));
const webhookBody = (member: { memberId: string; invoice: { invoiceId: string; amountMinor: number; currency: string } }, reference = `esewa-${randomUUID()}`) =>
  JSON.stringify({ memberId: member.memberId, invoiceId: member.invoice.invoiceId, amount: member.invoice.amountMinor, currency: member.invoice.currency, reference, paidAt: new Date().toISOString() });
const webhook = (raw: string, signature: string | undefined = signWebhook(esewa, api.tenant.slug, 'esewa', raw), slug = api.tenant.slug, provider = 'esewa') =>
  answer(api.request('POST', `/api/parties/${slug}/payments/webhooks/${provider}`, { raw, headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) } }));

test('a treasurer records a manual payment; the member is activated; repeating the reference returns the same payment', async () => {
  const member = await awaitingPayment();
  const first = await manual(member, { reference: 'RCPT-0001' });
  expect(first.status).toBe(201);
  expect(first.body.data).toMatchObject({ type: 'payments', attributes: { memberId: member.memberId, invoiceId: member.invoice.invoiceId, amount: 50_000, currency: 'NPR', provider: 'manual', reference: 'RCPT-0001' } });
  expect((await lifecycleHandle(api, member.workflowId).result()).stage).toBe('CardIssued');
  const again = await manual(member, { reference: 'RCPT-0001' });
  expect(again.status).toBe(200);
  expect(again.body.data.id).toBe(first.body.data.id);
  expect(await paymentsOf(member.memberId)).toBe(1);
  expect((await memberEvents(api, member.memberId)).filter((e) => e.type === 'PaymentReceived')).toHaveLength(1);
});

test('without the treasurer or tenant_admin role the answer is 403, without a token 401, and nothing is recorded', async () => {
  const member = await awaitingPayment();
  for (const roles of [[], ['registrar'], ['ops']] as const) expect((await manual(member, {}, (await api.userWithToken({ roles: [...roles] })).token)).status).toBe(403);
  expect((await api.request('POST', `/api/members/${member.memberId}/payments`, { body: {} })).status).toBe(401);
  expect((await manual(member, {}, (await api.userWithToken({ roles: ['tenant_admin'] })).token)).status).toBe(201);
  expect(await paymentsOf(member.memberId)).toBe(1);
});

test("an unknown member or another party's member is 404, and the other party's lifecycle is untouched", async () => {
  const foreign = await awaitingPayment(other.id);
  expect((await manual({ ...foreign, memberId: randomUUID() })).status).toBe(404);
  const res = await manual(foreign);
  expect(res.status).toBe(404);
  expect(JSON.stringify(res.body)).not.toContain(foreign.invoice.invoiceId);
  expect((await webhook(webhookBody(foreign))).status).toBe(404);
  expect(await paymentsOf(foreign.memberId, other.id)).toBe(0);
  expect(await stageOf(foreign.workflowId)).toBe('AwaitingPayment');
});

test.each([
  ['a non-integer amount', { amount: 12.5 }, 'VALIDATION_FAILED', '/data/attributes/amount', 422],
  ['a missing currency', { currency: undefined }, 'VALIDATION_FAILED', '/data/attributes/currency', 422],
  ['a paidAt in the future', { paidAt: new Date(Date.now() + 86_400_000).toISOString() }, 'VALIDATION_FAILED', '/data/attributes/paidAt', 422],
  ['the wrong amount', { amount: 1 }, 'PAYMENT_AMOUNT_MISMATCH', '/data/attributes/amount', 422],
  ['the wrong currency', { currency: 'USD' }, 'PAYMENT_AMOUNT_MISMATCH', '/data/attributes/currency', 422],
  ['another invoice', { invoiceId: randomUUID() }, 'INVOICE_MISMATCH', '/data/attributes/invoiceId', 422],
])('%s is refused naming the field, and changes nothing', async (_name, attributes, code, pointer, status) => {
  const member = await awaitingPayment();
  const res = await manual(member, attributes);
  expect(res.status).toBe(status);
  expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ code, source: { pointer } })]));
  expect(await paymentsOf(member.memberId)).toBe(0);
  expect(await stageOf(member.workflowId)).toBe('AwaitingPayment');
});

test("a payment for an application not awaiting payment, or reusing another member's reference, is 409", async () => {
  const unapproved = await awaitingPayment(api.tenant.id, false);
  const early = await manual(unapproved);
  expect([early.status, early.body.errors[0]?.code]).toEqual([409, 'MEMBER_NOT_AWAITING_PAYMENT']);
  const paid = await awaitingPayment();
  const reference = `RCPT-${randomUUID()}`;
  expect((await manual(paid, { reference })).status).toBe(201);
  await lifecycleHandle(api, paid.workflowId).result();
  const second = await manual(paid, { reference: 'another receipt' });
  expect([second.status, second.body.errors[0]?.code]).toEqual([409, 'MEMBER_NOT_AWAITING_PAYMENT']);
  expect(await paymentsOf(paid.memberId)).toBe(1);
  const next = await awaitingPayment();
  const reused = await manual(next, { reference });
  expect([reused.status, reused.body.errors[0]]).toEqual([409, expect.objectContaining({ code: 'DUPLICATE_PAYMENT_REFERENCE', source: { pointer: '/data/attributes/reference' } })]);
  expect(await paymentsOf(next.memberId)).toBe(0);
  expect(await stageOf(next.workflowId)).toBe('AwaitingPayment');
});

test('the same webhook delivered 10 times at once records one payment, and a late repeat finds it', async () => {
  const member = await awaitingPayment();
  const raw = webhookBody(member);
  const answers = await Promise.all(Array.from({ length: 10 }, () => webhook(raw)));
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
  expect(answers[0]?.body.data.attributes).toMatchObject({ provider: 'esewa', memberId: member.memberId });
  expect((await lifecycleHandle(api, member.workflowId).result()).stage).toBe('CardIssued');
  const late = await webhook(raw);
  expect([late.status, late.body.data.id]).toEqual([200, answers[0]?.body.data.id]);
  expect(await paymentsOf(member.memberId)).toBe(1);
  expect((await memberEvents(api, member.memberId)).filter((e) => e.type === 'PaymentReceived')).toHaveLength(1);
});

test('a missing, malformed or wrong signature is 401 and records nothing', async () => {
  const member = await awaitingPayment();
  const raw = webhookBody(member);
  const signatures = [undefined, 'sha256=zz', 't=1,v1=zz', signWebhook('not the secret at all, but long enough', api.tenant.slug, 'esewa', raw),
    signWebhook(esewa, api.tenant.slug, 'esewa', `${raw} `), signWebhook(esewa, api.tenant.slug, 'esewa', raw).replace('t=', 't=1')];
  for (const signature of signatures) {
    const res = await webhook(raw, signature ?? '');
    expect(res.status).toBe(401);
    expect(res.body.errors[0]?.code).toBe('BAD_SIGNATURE');
  }
  expect(await paymentsOf(member.memberId)).toBe(0);
  expect(await stageOf(member.workflowId)).toBe('AwaitingPayment');
});

test('a webhook for an unknown party, or under the reserved provider name manual, is refused as unsigned; a signed wrong amount is 422', async () => {
  const member = await awaitingPayment();
  const raw = webhookBody(member);
  for (const [slug, provider] of [['no-such-party', 'esewa'], [api.tenant.slug, 'manual']] as const) {
    const res = await webhook(raw, signWebhook(esewa, slug, provider, raw), slug, provider);
    expect([res.status, res.body.errors[0]?.code]).toEqual([401, 'BAD_SIGNATURE']);
  }
  const mismatch = await webhook(webhookBody({ ...member, invoice: { ...member.invoice, amountMinor: 10 } }));
  expect(mismatch.status).toBe(422);
  expect(mismatch.body.errors[0]?.source).toEqual({ pointer: '/amount' });
  expect(await paymentsOf(member.memberId)).toBe(0);
});

test("a delivery signed for party A is refused at party B's URL, also when B's member is named; B's own signature is accepted", async () => {
  const foreign = await awaitingPayment(other.id);
  const raw = webhookBody(foreign);
  // Captured from A's URL and replayed to B's, or signed with A's secret naming B.
  for (const signature of [signWebhook(esewa, api.tenant.slug, 'esewa', raw), signWebhook(esewa, other.slug, 'esewa', raw)]) {
    const res = await webhook(raw, signature, other.slug);
    expect([res.status, res.body.errors[0]?.code]).toEqual([401, 'BAD_SIGNATURE']);
  }
  expect(await paymentsOf(foreign.memberId, other.id)).toBe(0);
  expect(await stageOf(foreign.workflowId)).toBe('AwaitingPayment');
  const own = await webhook(raw, signWebhook(otherEsewa, other.slug, 'esewa', raw), other.slug);
  expect(own.status).toBe(200);
  expect(await paymentsOf(foreign.memberId, other.id)).toBe(1);
});

test('a delivery signed for provider X is refused at provider Y, under either secret; Y signing for itself is accepted', async () => {
  const khalti = await api.webhookSecret('khalti');
  const member = await awaitingPayment();
  const raw = webhookBody(member, `khalti-${randomUUID()}`);
  for (const signature of [signWebhook(esewa, api.tenant.slug, 'esewa', raw), signWebhook(esewa, api.tenant.slug, 'khalti', raw), signWebhook(khalti, api.tenant.slug, 'esewa', raw)]) {
    const res = await webhook(raw, signature, api.tenant.slug, 'khalti');
    expect([res.status, res.body.errors[0]?.code]).toEqual([401, 'BAD_SIGNATURE']);
  }
  expect(await paymentsOf(member.memberId)).toBe(0);
  const own = await webhook(raw, signWebhook(khalti, api.tenant.slug, 'khalti', raw), api.tenant.slug, 'khalti');
  expect([own.status, own.body.data.attributes.provider]).toEqual([200, 'khalti']);
});

test('a signature 6 minutes old or 6 minutes ahead is refused; 4 minutes either way is accepted', async () => {
  const member = await awaitingPayment();
  const raw = webhookBody(member);
  const at = (minutes: number) => new Date(Date.now() + minutes * 60_000);
  for (const minutes of [-6, 6, -60 * 24]) {
    const res = await webhook(raw, signWebhook(esewa, api.tenant.slug, 'esewa', raw, at(minutes)));
    expect([minutes, res.status, res.body.errors[0]?.code]).toEqual([minutes, 401, 'BAD_SIGNATURE']);
  }
  expect(await paymentsOf(member.memberId)).toBe(0);
  expect((await webhook(raw, signWebhook(esewa, api.tenant.slug, 'esewa', raw, at(4)))).status).toBe(200);
  expect((await webhook(raw, signWebhook(esewa, api.tenant.slug, 'esewa', raw, at(-4)))).status).toBe(200);
  expect(await paymentsOf(member.memberId)).toBe(1);
});

test('during a rotation the previous and the new secret are both accepted; once the overlap ends only the new one', async () => {
  const provider = `rotapay-${randomBytes(2).toString('hex')}`;
  const previous = await api.webhookSecret(provider);
  const inParty = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'test' }, work);
  const rotated = await inParty((tx) => rotateWebhookSecret(tx, api.keyring, api.tenant.id, provider, 3_600_000));
  const current = rotated!.secret;
  const send = (secrets: string[]) => {
    const raw = JSON.stringify({ memberId: randomUUID(), invoiceId: randomUUID(), amount: 1, currency: 'NPR', reference: `r-${randomUUID()}`, paidAt: new Date().toISOString() });
    return webhook(raw, signWebhook(secrets, api.tenant.slug, provider, raw), api.tenant.slug, provider);
  };
  // Past the signature, an unknown member is 404: the secret was accepted.
  expect((await send([previous])).status).toBe(404);
  expect((await send([current])).status).toBe(404);
  expect((await send([previous, current])).status).toBe(404);
  expect(await inParty((tx) => endWebhookSecretOverlap(tx, provider))).toBe(1);
  expect((await send([previous])).status).toBe(401);
  expect((await send([current])).status).toBe(404);
  expect((await send(['a stranger', current])).status).toBe(404);
});

test('every refusal reads the same, whether the party or provider exists or not, and costs about the same', async () => {
  const member = await awaitingPayment();
  const raw = webhookBody(member);
  const attempts = {
    'unknown party': () => webhook(raw, signWebhook(esewa, 'no-such-party', 'esewa', raw), 'no-such-party'),
    'unknown provider': () => webhook(raw, signWebhook(esewa, api.tenant.slug, 'nosuchpay', raw), api.tenant.slug, 'nosuchpay'),
    'party without a secret for the provider': () => webhook(raw, signWebhook(esewa, other.slug, 'khalti', raw), other.slug, 'khalti'),
    'wrong secret': () => webhook(raw, signWebhook('a secret of nobody here', api.tenant.slug, 'esewa', raw)),
    'stale signature': () => webhook(raw, signWebhook(esewa, api.tenant.slug, 'esewa', raw, new Date(Date.now() - 600_000))),
  };
  const bodies = new Set<string>();
  const times: Record<string, number[]> = {};
  for (let round = 0; round < 30; round++) {
    for (const [name, attempt] of Object.entries(attempts)) {
      const started = process.hrtime.bigint();
      const res = await attempt();
      (times[name] ??= []).push(Number(process.hrtime.bigint() - started) / 1e6);
      expect(res.status).toBe(401);
      bodies.add(JSON.stringify(res.body));
    }
  }
  expect(bodies.size).toBe(1);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const medians = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)]));
  console.log(`webhook refusal medians (ms): ${JSON.stringify(medians)}`);
  const all = Object.values(medians);
  expect(Math.max(...all) / Math.min(...all)).toBeLessThan(3);
  expect(await paymentsOf(member.memberId)).toBe(0);
});
