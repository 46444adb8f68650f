import { randomUUID } from 'node:crypto';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { makeCommittee } from '../support/fixtures.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { admitMember } from '../support/lifecycle-harness.ts';

/**
 * Renewal through the API, on a real worker, Temporal and Postgres: staff start a renewal now,
 * read the member's terms and the open renewal, and the renewal invoice is paid through the same
 * manual and webhook paths as an admission invoice. (Lapse and reinstatement, which take the
 * worker's clock moved, are in test/int/renewals.int.test.ts.)
 */
let api: ApiHarness & { stop(): Promise<void> };
let treasurer: string;
let registrar: string;
let head: string;
let otherHead: string;
let opsUser: string;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 600_000 });
  treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  opsUser = (await api.userWithToken({ roles: ['ops'] })).token;
  head = await api.tokenFor(api.headUserId);
  // A head of a committee on the third ward does not cover members of the second.
  const elsewhere = await makeCommittee(api.db.app, api.tenant.id, api.geo.wardIds[2]!, 'Ward 3 Committee');
  otherHead = (await api.userWithToken({ headOf: [elsewhere] })).token;
}, 120_000);
afterAll(() => api.stop());

const renewTerm = (termNumber: number) => ({ data: { type: 'renewals', attributes: { termNumber } } });

async function openRenewalOf(memberId: string, token = treasurer) {
  for (let i = 0; i < 100; i++) {
    const res = await api.request('GET', `/api/members/${memberId}/terms`, { token });
    expect(res.status).toBe(200);
    if (res.body.meta.openRenewal?.invoiceId) return res.body.meta.openRenewal as { workflowId: string; invoiceId: string; amountMinor: number; currency: string; dueAt: string };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no renewal invoice for ${memberId}`);
}

test('staff start a renewal now; the invoice appears with the terms; a manual payment of it renews the member early, extending from paid-until', async () => {
  const memberId = await admitMember(api, `renew-${randomUUID()}@example.np`);
  const before = await api.request('GET', `/api/members/${memberId}/terms`, { token: registrar });
  expect(before.status).toBe(200);
  expect(before.body.data).toHaveLength(1);
  expect(before.body.meta).toMatchObject({ standing: 'current', openRenewal: null });
  const paidUntil = before.body.data[0].attributes.endsOn as string;

  // Only a treasurer or tenant_admin starts a renewal.
  expect((await api.request('POST', `/api/members/${memberId}/renewals`, { token: registrar, body: renewTerm(1) })).status).toBe(403);
  // A stale request naming another term changes nothing, naming the field.
  const stale = await api.request('POST', `/api/members/${memberId}/renewals`, { token: treasurer, body: renewTerm(2) });
  expect(stale.status).toBe(409);
  expect(stale.body.errors[0]).toMatchObject({ code: 'TERM_NOT_LAST', source: { pointer: '/data/attributes/termNumber' } });
  const started = await api.request('POST', `/api/members/${memberId}/renewals`, { token: treasurer, body: renewTerm(1) });
  expect(started.status).toBe(202);
  expect(started.body.data).toMatchObject({ type: 'renewals', attributes: { termNumber: 1 } });
  const again = await api.request('POST', `/api/members/${memberId}/renewals`, { token: treasurer, body: renewTerm(1) });
  expect(again).toMatchObject({ status: 200, body: { data: { id: started.body.data.id } } });

  const open = await openRenewalOf(memberId);
  expect(open).toMatchObject({ workflowId: started.body.data.id, amountMinor: 50_000, currency: 'NPR' });
  // Visible to ops as a renewal waiting for payment.
  const stuck = await api.request('GET', '/api/ops/stuck-lifecycles?stage=AwaitingRenewalPayment&olderThanMinutes=0', { token: opsUser });
  expect(stuck.status).toBe(200);
  expect(stuck.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ id: open.workflowId, attributes: expect.objectContaining({ memberId, workflowType: 'memberRenewal' }) })]));

  const pay = (attributes: Record<string, unknown>) => api.request('POST', `/api/members/${memberId}/payments`, { token: treasurer, body: { data: { type: 'payments', attributes: {
    invoiceId: open.invoiceId, amount: open.amountMinor, currency: open.currency, reference: 'RENEW-1', paidAt: new Date().toISOString(), ...attributes } } } });
  const wrong = await pay({ amount: open.amountMinor + 1, reference: 'RENEW-0' });
  expect(wrong.status).toBe(422);
  expect(wrong.body.errors[0]).toMatchObject({ code: 'PAYMENT_AMOUNT_MISMATCH', source: { pointer: '/data/attributes/amount' } });
  const paid = await pay({});
  expect(paid.status).toBe(201);
  expect((await pay({})).status).toBe(200);

  const after = await api.request('GET', `/api/members/${memberId}/terms`, { token: head });
  expect(after.status).toBe(200);
  expect(after.body.data.map((t: { attributes: { termNumber: number; startsOn: string; source: string } }) => t.attributes))
    .toEqual([expect.objectContaining({ termNumber: 1 }), expect.objectContaining({ termNumber: 2, startsOn: paidUntil, source: 'renewal', paymentId: paid.body.data.id })]);
  expect(after.body.meta.openRenewal).toBeNull();
}, 120_000);

test("a renewal invoice is paid through the party's signed webhook like an admission invoice", async () => {
  const memberId = await admitMember(api, `renew-hook-${randomUUID()}@example.np`);
  expect((await api.request('POST', `/api/members/${memberId}/renewals`, { token: treasurer, body: renewTerm(1) })).status).toBe(202);
  const open = await openRenewalOf(memberId);
  const secret = await api.webhookSecret('esewa');
  const raw = JSON.stringify({ memberId, invoiceId: open.invoiceId, amount: open.amountMinor, currency: open.currency, reference: `esewa-${randomUUID()}`, paidAt: new Date().toISOString() });
  const send = () => api.request('POST', `/api/parties/${api.tenant.slug}/payments/webhooks/esewa`,
    { raw, headers: { 'content-type': 'application/json', 'x-signature': signWebhook(secret, api.tenant.slug, 'esewa', raw) } });
  const first = await send();
  expect(first.status).toBe(200);
  // A redelivery records nothing more.
  expect((await send()).body.data.id).toBe(first.body.data.id);
  const terms = await api.request('GET', `/api/members/${memberId}/terms`, { token: treasurer });
  expect(terms.body.data).toHaveLength(2);
}, 120_000);

test('who may read terms and start renewals: not a head elsewhere; an unknown member is 404; bad ids are refused', async () => {
  const memberId = await admitMember(api, `renew-auth-${randomUUID()}@example.np`);
  expect((await api.request('GET', `/api/members/${memberId}/terms`, { token: otherHead })).status).toBe(403);
  expect((await api.request('GET', `/api/members/${randomUUID()}/terms`, { token: treasurer })).status).toBe(404);
  expect((await api.request('POST', `/api/members/${randomUUID()}/renewals`, { token: treasurer, body: renewTerm(1) })).status).toBe(404);
  expect((await api.request('GET', '/api/members/not-a-uuid/terms', { token: treasurer })).status).toBe(404);
  expect((await api.request('GET', `/api/members/${memberId}/terms`)).status).toBe(401);
}, 120_000);
