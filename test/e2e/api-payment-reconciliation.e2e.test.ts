import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readStream } from '../../src/events/event-store.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate, statusQuery } from '../../src/members/lifecycle-contract.ts';
import { addReconciliationItem, type ReconciliationItem, type ReconciliationReason } from '../../src/payments/reconciliation.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
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

interface Answer extends Omit<ApiResponse, 'body'> {
  body: {
    data: { id: string; type: string; attributes: Record<string, unknown> } & { length?: number };
    links?: { next: string | null };
    errors: { code: string; detail: string; source?: { pointer?: string } }[];
  };
}
const answer = (res: Promise<ApiResponse>) => res as Promise<Answer>;

/** A member of `tenantId` whose lifecycle waits for the payment of its invoice. */
async function awaitingPayment(tenantId = api.tenant.id) {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenantId, applicationFor(api, `${randomUUID()}@example.np`));
  if (tenantId !== api.tenant.id) otherWorkflows.push(member.workflowId);
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  return { ...member, invoice: await awaitInvoice(lifecycleHandle(api, member.workflowId)) };
}

/** An open item in the queue, as a verification workflow or the daily run puts it there. */
const queued = (options: { tenantId?: string; amountMinor?: number; reason?: ReconciliationReason; gateway?: 'esewa' | 'khalti' } = {}) => {
  const tenantId = options.tenantId ?? api.tenant.id;
  return withTenant(api.db.app, { tenantId, actor: 'payment:test' }, (tx) => addReconciliationItem(tx, {
    tenantId, gateway: options.gateway ?? 'esewa', reference: randomUUID(), attemptId: null, memberId: null,
    amountMinor: options.amountMinor ?? 50_000, currency: 'NPR', reason: options.reason ?? 'unknown_reference', detail: 'no attempt has this reference',
  }));
};

const attach = (itemId: string, invoiceId: string, token = treasurer, note = 'paid at the wrong time; the member confirmed by phone') =>
  answer(api.request('POST', `/api/payment-reconciliation/${itemId}/attach`, { token, body: { data: { type: 'payment-reconciliation', attributes: { invoiceId, note } } } }));
const refund = (itemId: string, token = treasurer, note = 'not our member') =>
  answer(api.request('POST', `/api/payment-reconciliation/${itemId}/refund`, { token, body: { data: { type: 'payment-reconciliation', attributes: { note } } } }));
const inParty = <T>(work: Parameters<typeof withTenant<T>>[2], tenantId = api.tenant.id) => withTenant(api.db.app, { tenantId, actor: 'test' }, work);
const paymentsOf = (memberId: string, tenantId = api.tenant.id) => inParty((tx) =>
  tx.any(sql.type(z.object({ id: z.string(), provider: z.string(), reference: z.string() }))`SELECT id, provider, provider_ref AS reference FROM payments WHERE member_id = ${memberId}`), tenantId);
const itemRow = (id: string, tenantId = api.tenant.id) => inParty((tx) =>
  tx.one(sql.type(z.object({ status: z.string(), paymentId: z.string().nullable(), resolvedBy: z.string().nullable() }))`
    SELECT status, payment_id AS "paymentId", resolved_by AS "resolvedBy" FROM payment_reconciliation_items WHERE id = ${id}`), tenantId);
const auditOf = (id: string) => inParty((tx) => tx.any(sql.type(z.object({ operation: z.string(), actor: z.string().nullable() }))`
  SELECT operation, actor FROM audit_log WHERE table_name = 'payment_reconciliation_items' AND record_id = ${id} ORDER BY id`));

test('attaching an item records its money as the payment of the invoice: the member proceeds, one event and one audit row record the decision', async () => {
  const member = await awaitingPayment();
  const item = await queued({ reason: 'invoice_not_open' });
  const { token, userId } = await api.userWithToken({ roles: ['treasurer'] });
  const res = await attach(item.id, member.invoice.invoiceId, token);
  expect(res.status).toBe(200);
  expect(res.body.data).toMatchObject({ type: 'payment-reconciliation', id: item.id, attributes: { status: 'attached', resolvedBy: `user:${userId}`, resolutionNote: expect.any(String) } });
  const payments = await paymentsOf(member.memberId);
  expect(payments).toEqual([{ id: res.body.data.attributes.paymentId, provider: 'esewa', reference: item.reference }]);
  expect((await lifecycleHandle(api, member.workflowId).result()).stage).toBe('CardIssued');
  const invoice = await inParty((tx) => tx.oneFirst(sql.type(z.object({ status: z.string() }))`SELECT status::text AS status FROM invoices WHERE id = ${member.invoice.invoiceId}`));
  expect(invoice).toBe('paid');
  expect((await memberEvents(api, member.memberId)).filter((e) => e.type === 'PaymentReceived')).toHaveLength(1);
  const events = await inParty((tx) => readStream(tx, item.id));
  expect(events.map((e) => [e.aggregateType, e.type, e.payload])).toEqual([
    ['PaymentReconciliation', 'ReconciliationAttached', { paymentId: payments[0]!.id, invoiceId: member.invoice.invoiceId, by: `user:${userId}` }],
  ]);
  expect(await auditOf(item.id)).toEqual([{ operation: 'INSERT', actor: 'payment:test' }, { operation: 'UPDATE', actor: `user:${userId}` }]);
});

test('marking an item for refund records the decision; a second decision of either kind is 409 RECONCILIATION_DECIDED and changes nothing', async () => {
  const member = await awaitingPayment();
  const item = await queued({ reason: 'paid_twice' });
  const { token, userId } = await api.userWithToken({ roles: ['tenant_admin'] });
  const res = await refund(item.id, token);
  expect(res.status).toBe(200);
  expect(res.body.data.attributes).toMatchObject({ status: 'refund', resolvedBy: `user:${userId}`, resolutionNote: 'not our member', paymentId: null });
  for (const again of [await refund(item.id), await attach(item.id, member.invoice.invoiceId)]) {
    expect([again.status, again.body.errors[0]?.code]).toEqual([409, 'RECONCILIATION_DECIDED']);
  }
  expect(await itemRow(item.id)).toEqual({ status: 'refund', paymentId: null, resolvedBy: `user:${userId}` });
  expect(await paymentsOf(member.memberId)).toEqual([]);
  expect(await lifecycleHandle(api, member.workflowId).query(statusQuery).then((s) => s.stage)).toBe('AwaitingPayment');
  const events = await inParty((tx) => readStream(tx, item.id));
  expect(events.map((e) => [e.type, e.payload])).toEqual([['ReconciliationRefundMarked', { by: `user:${userId}` }]]);
});

test('an item attached twice: the second is 409 and the invoice keeps one payment', async () => {
  const member = await awaitingPayment();
  const item = await queued();
  expect((await attach(item.id, member.invoice.invoiceId)).status).toBe(200);
  const again = await attach(item.id, member.invoice.invoiceId);
  expect([again.status, again.body.errors[0]?.code]).toEqual([409, 'RECONCILIATION_DECIDED']);
  expect(await paymentsOf(member.memberId)).toHaveLength(1);
  expect(await inParty((tx) => readStream(tx, item.id))).toHaveLength(1);
});

test.each([
  ['an item of another amount', { amountMinor: 40_000 }, 'own', 'PAYMENT_AMOUNT_MISMATCH'],
  ['an invoice that does not exist', {}, 'unknown', 'INVOICE_MISMATCH'],
  ["another party's invoice", {}, 'other', 'INVOICE_MISMATCH'],
] as const)('attaching %s is 422 naming invoiceId, and changes nothing', async (_name, item, whose, code) => {
  const member = await awaitingPayment();
  const foreign = whose === 'other' ? await awaitingPayment(other.id) : null;
  const invoiceId = whose === 'own' ? member.invoice.invoiceId : foreign?.invoice.invoiceId ?? randomUUID();
  const queuedItem = await queued(item);
  const res = await attach(queuedItem.id, invoiceId);
  expect(res.status).toBe(422);
  expect(res.body.errors).toEqual([expect.objectContaining({ code, source: { pointer: '/data/attributes/invoiceId' } })]);
  expect(await itemRow(queuedItem.id)).toEqual({ status: 'open', paymentId: null, resolvedBy: null });
  expect(await paymentsOf(member.memberId)).toEqual([]);
  if (foreign) expect(await paymentsOf(foreign.memberId, other.id)).toEqual([]);
  expect(await lifecycleHandle(api, member.workflowId).query(statusQuery).then((s) => s.stage)).toBe('AwaitingPayment');
  expect(await inParty((tx) => readStream(tx, queuedItem.id))).toEqual([]);
});

test("another party's item is 404 to read, attach or refund, and stays open", async () => {
  const member = await awaitingPayment();
  const item = await queued({ tenantId: other.id });
  expect((await answer(api.request('GET', `/api/payment-reconciliation/${item.id}`, { token: treasurer }))).status).toBe(404);
  expect((await attach(item.id, member.invoice.invoiceId)).status).toBe(404);
  expect((await refund(item.id)).status).toBe(404);
  expect(await itemRow(item.id, other.id)).toEqual({ status: 'open', paymentId: null, resolvedBy: null });
  expect(await paymentsOf(member.memberId)).toEqual([]);
});

test('only a treasurer or tenant_admin may list, read or decide; without a token 401', async () => {
  const member = await awaitingPayment();
  const item = await queued();
  for (const roles of [[], ['registrar'], ['ops']] as const) {
    const { token } = await api.userWithToken({ roles: [...roles] });
    expect((await api.request('GET', '/api/payment-reconciliation', { token })).status).toBe(403);
    expect((await api.request('GET', `/api/payment-reconciliation/${item.id}`, { token })).status).toBe(403);
    expect((await attach(item.id, member.invoice.invoiceId, token)).status).toBe(403);
    expect((await refund(item.id, token)).status).toBe(403);
  }
  expect((await api.request('GET', '/api/payment-reconciliation')).status).toBe(401);
  expect(await itemRow(item.id)).toEqual({ status: 'open', paymentId: null, resolvedBy: null });
  const read = await answer(api.request('GET', `/api/payment-reconciliation/${item.id}`, { token: treasurer }));
  expect(read.body.data.attributes).toMatchObject({ gateway: 'esewa', reference: item.reference, amount: 50_000, currency: 'NPR', reason: 'unknown_reference', status: 'open' });
});

test("the queue lists the party's items oldest first, filtered by status, each once across keyset pages", async () => {
  const mine: ReconciliationItem[] = [];
  for (let i = 0; i < 5; i++) mine.push(await queued({ gateway: i % 2 ? 'khalti' : 'esewa' }));
  const foreign = await queued({ tenantId: other.id });
  expect((await refund(mine[1]!.id)).status).toBe(200);
  const walk = async (first: string) => {
    const seen: { id: string; status: unknown; detectedAt: unknown }[] = [];
    for (let next: string | null = first; next;) {
      const page: Answer = await answer(api.request('GET', next, { token: treasurer }));
      expect(page.status).toBe(200);
      const rows = page.body.data as unknown as { id: string; attributes: Record<string, unknown> }[];
      expect(rows.length).toBeLessThanOrEqual(2);
      seen.push(...rows.map((r) => ({ id: r.id, status: r.attributes.status, detectedAt: r.attributes.detectedAt })));
      next = page.body.links?.next ?? null;
    }
    return seen;
  };
  const all = await walk('/api/payment-reconciliation?page[size]=2');
  expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
  expect(all.map((r) => r.id)).not.toContain(foreign.id);
  expect(all.filter((r) => mine.some((m) => m.id === r.id)).map((r) => r.id)).toEqual(mine.map((m) => m.id));
  expect([...all].sort((a, b) => String(a.detectedAt).localeCompare(String(b.detectedAt)))).toEqual(all);
  const open = await walk('/api/payment-reconciliation?filter[status]=open&page[size]=2');
  expect(open.every((r) => r.status === 'open')).toBe(true);
  expect(open.filter((r) => mine.some((m) => m.id === r.id)).map((r) => r.id)).toEqual([mine[0], mine[2], mine[3], mine[4]].map((m) => m!.id));
  const bad = await answer(api.request('GET', '/api/payment-reconciliation?filter[status]=closed', { token: treasurer }));
  expect([bad.status, bad.body.errors[0]?.code]).toEqual([400, 'INVALID_PARAMETER']);
});

test("a gateway transaction already recorded as another invoice's payment cannot be attached: 409, only a refund", async () => {
  const first = await awaitingPayment();
  const item = await queued({ reason: 'gateway_differs' });
  expect((await attach(item.id, first.invoice.invoiceId)).status).toBe(200);
  const again = await inParty((tx) => addReconciliationItem(tx, {
    tenantId: api.tenant.id, gateway: 'esewa', reference: item.reference, attemptId: null, memberId: first.memberId,
    amountMinor: 50_000, currency: 'NPR', reason: 'paid_twice', detail: 'the gateway reports it refunded',
  }));
  const second = await awaitingPayment();
  const res = await attach(again.id, second.invoice.invoiceId);
  expect([res.status, res.body.errors[0]?.code]).toEqual([409, 'RECONCILIATION_ALREADY_RECORDED']);
  expect(await paymentsOf(second.memberId)).toEqual([]);
  expect((await refund(again.id)).status).toBe(200);
});
