import { randomBytes, randomUUID } from 'node:crypto';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import { approveUpdate, rejectUpdate } from '../../src/members/lifecycle-contract.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeCommittee, makeTenant, seedMiniGeography, type MiniGeography } from '../support/fixtures.ts';
import { applicationFor, awaitInvoice, lifecycleHandle } from '../support/lifecycle-harness.ts';

/* GET /api/members/{id}/history and GET /api/statistics/geography/{nodeId}?asOf over HTTP. */

let api: ApiHarness & { stop(): Promise<void> };
let registrar: string;
let other: Tenant;
let geo: MiniGeography;
let rejected: Registered;
let payable: Registered;
let foreign: Registered;
const foreignWorkflows: string[] = [];

const kathmanduDay = (offsetDays = 0) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kathmandu' }).format(new Date(Date.now() + offsetDays * 86_400_000));
const register = async (wardId: string, email: string, tenantId = api.tenant.id): Promise<Registered> => {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenantId, { ...applicationFor(api, email), wardId });
  if (tenantId !== api.tenant.id) foreignWorkflows.push(member.workflowId);
  return member;
};
interface Statistics extends Omit<ApiResponse, 'body'> { body: { data: { attributes: { total: number; byStatus: Record<string, number> } }; errors?: { code: string; source?: { parameter?: string } }[] } }
interface HistoryEvent { type: string; id: string; attributes: { version: number; eventType: string; recordedAt: string; actor: string | null; data: Record<string, unknown> } }
interface History extends Omit<ApiResponse, 'body'> { body: { data: HistoryEvent[] } }
const statistics = (nodeId: string, query = '', token = registrar) => api.request('GET', `/api/statistics/geography/${nodeId}${query}`, { token }) as Promise<Statistics>;
const history = (memberId: string, token = registrar) => api.request('GET', `/api/members/${memberId}/history`, { token }) as Promise<History>;

beforeAll(async () => {
  api = await startApiHarness();
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  other = await makeTenant(api.db.app, api.keyring, `hist-${randomBytes(3).toString('hex')}`, 'HIS');
  geo = await seedMiniGeography(api.db.owner, 'HE');
  const [ward1, ward2] = geo.wardIds as [string, string];
  await register(ward1, 'waiting@example.np');
  payable = await register(ward2, 'payable@example.np');
  await sendLifecycleUpdate(api.client, payable.workflowId, approveUpdate, { by: 'user:approver' });
  await awaitInvoice(lifecycleHandle(api, payable.workflowId));
  rejected = await register(ward2, 'rejected@example.np');
  await sendLifecycleUpdate(api.client, rejected.workflowId, rejectUpdate, { by: 'user:rejecter', reason: 'Lives in Pokhara, phone 9851000000' });
  foreign = await register(ward2, 'foreign@example.np', other.id);
}, 180_000);
afterAll(async () => {
  await Promise.all(foreignWorkflows.map((id) => api.client.workflow.getHandle(id).terminate('test finished').catch(() => undefined)));
  await api.stop();
});

test('as of today (Kathmandu) the counts from the events equal the current counts from the members rows, at every node', async () => {
  for (const node of [geo.provinceId, geo.districtId, geo.localLevelId, ...geo.wardIds]) {
    const now = await statistics(node);
    const asOf = await statistics(node, `?asOf=${kathmanduDay()}`);
    expect([asOf.status, asOf.body.data.attributes]).toEqual([200, now.body.data.attributes]);
  }
  expect((await statistics(geo.provinceId)).body.data.attributes).toMatchObject({ total: 3, byStatus: { awaiting_approval: 1, awaiting_payment: 1, rejected: 1 } });
});

test('as of a day before anyone registered, nobody; the other party never counts', async () => {
  const before = await statistics(geo.provinceId, `?asOf=${kathmanduDay(-2)}`);
  expect([before.status, before.body.data.attributes.total]).toEqual([200, 0]);
  expect(Object.values(before.body.data.attributes.byStatus).every((n) => n === 0)).toBe(true);
  const admin = (await api.userWithToken({ roles: ['tenant_admin'] })).token;
  expect((await statistics(geo.wardIds[1]!, `?asOf=${kathmanduDay()}`, admin)).body.data.attributes.total).toBe(2);
});

test('a bad asOf names the parameter and changes nothing; unknown query parameters are refused', async () => {
  for (const bad of ['2026-13-01', 'yesterday', '1800-01-01', '2026-02-30T00:00:00Z']) {
    const res = await statistics(geo.provinceId, `?asOf=${encodeURIComponent(bad)}`);
    expect([bad, res.status, res.body.errors?.[0]?.source?.parameter]).toEqual([bad, 400, 'asOf']);
  }
  expect((await statistics(geo.provinceId, '?asof=2026-01-01')).status).toBe(400);
});

test("a member's history: every event in order, who and when, ids and codes only, never free text or contact data", async () => {
  const res = await history(rejected.memberId);
  expect(res.status).toBe(200);
  const events = res.body.data;
  expect(events.map((e) => e.attributes.eventType)).toEqual(['MemberRegistered', 'MemberRejected']);
  expect(events.map((e) => e.attributes.version)).toEqual([1, 2]);
  expect(events.map((e) => e.id)).toEqual([`${rejected.memberId}:1`, `${rejected.memberId}:2`]);
  expect(events[0]!.attributes.data).toMatchObject({ wardId: geo.wardIds[1] });
  expect(events[1]!.attributes.data).toEqual({ by: 'user:rejecter' });
  expect(events.every((e) => e.attributes.actor !== null && e.attributes.actor.length > 0)).toBe(true);
  expect(Date.parse(events[0]!.attributes.recordedAt)).toBeLessThanOrEqual(Date.parse(events[1]!.attributes.recordedAt));
  const text = JSON.stringify(res.body);
  for (const secret of ['Pokhara', '9851000000', 'rejected@example.np', applicationFor(api, 'x@example.np').fullNameEn]) expect(text).not.toContain(secret);

  const paying = (await history(payable.memberId)).body.data.map((e) => e.attributes.eventType);
  expect(paying).toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued']);
});

test('history is for those who may read the member: staff and heads covering it; others 403; unknown and foreign ids 404', async () => {
  const committee = await makeCommittee(api.db.app, api.tenant.id, geo.localLevelId, 'History Committee');
  const elsewhere = await seedMiniGeography(api.db.owner, 'HX');
  const outside = await makeCommittee(api.db.app, api.tenant.id, elsewhere.localLevelId, 'Elsewhere Committee');
  const headIn = (await api.userWithToken({ headOf: [committee] })).token;
  const headOut = (await api.userWithToken({ headOf: [outside] })).token;
  const treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  const plain = (await api.userWithToken({ roles: [] })).token;
  const statuses = async (memberId: string) => Promise.all([registrar, treasurer, headIn, headOut, plain].map(async (t) => (await history(memberId, t)).status));
  expect(await statuses(rejected.memberId)).toEqual([200, 200, 200, 403, 403]);
  expect((await history(randomUUID())).status).toBe(404);
  expect((await history(foreign.memberId)).status).toBe(404);
  expect((await history('not-a-uuid')).status).toBe(404);
  expect((await api.request('GET', `/api/members/${rejected.memberId}/history`)).status).toBe(401);
});

test('the OpenAPI document describes asOf as a date and the history as a collection of member-events', async () => {
  const doc = (await api.request('GET', '/openapi.json')).body;
  const stats = doc.paths['/api/statistics/geography/{nodeId}'].get;
  expect(stats.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'query', name: 'asOf', schema: expect.objectContaining({ type: 'string', format: 'date' }) })]));
  const historyOp = doc.paths['/api/members/{id}/history'].get;
  expect(historyOp.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'path', name: 'id' })]));
  const schema = JSON.stringify(historyOp.responses['200']);
  for (const word of ['member-events', 'eventType', 'recordedAt', 'actor']) expect(schema).toContain(word);
});
