import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { signBody } from '../../api/payments/webhook-signature.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { approveUpdate, statusQuery } from '../../src/members/lifecycle-contract.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeTenant } from '../support/fixtures.ts';
import { applicationFor, awaitInvoice, lifecycleHandle, memberEvents } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let treasurer: string;
let other: Tenant;
const otherWorkflows: string[] = [];

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 600_000 });
  treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
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
const webhook = (raw: string, signature: string | undefined = signBody(api.apiDeps.paymentWebhookSecret!, raw), slug = api.tenant.slug, provider = 'esewa') =>
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
  const signatures = [undefined, 'sha256=zz', signBody('not the secret at all, but long enough', raw), signBody(api.apiDeps.paymentWebhookSecret!, `${raw} `)];
  for (const signature of signatures) {
    const res = await webhook(raw, signature ?? '');
    expect(res.status).toBe(401);
    expect(res.body.errors[0]?.code).toBe('BAD_SIGNATURE');
  }
  expect(await paymentsOf(member.memberId)).toBe(0);
  expect(await stageOf(member.workflowId)).toBe('AwaitingPayment');
});

test('a webhook for an unknown party, or under the reserved provider name manual, is 404', async () => {
  const member = await awaitingPayment();
  expect((await webhook(webhookBody(member), undefined, 'no-such-party')).status).toBe(404);
  expect((await webhook(webhookBody(member), undefined, api.tenant.slug, 'manual')).status).toBe(404);
  const mismatch = await webhook(webhookBody({ ...member, invoice: { ...member.invoice, amountMinor: 10 } }));
  expect(mismatch.status).toBe(422);
  expect(mismatch.body.errors[0]?.source).toEqual({ pointer: '/amount' });
  expect(await paymentsOf(member.memberId)).toBe(0);
});
