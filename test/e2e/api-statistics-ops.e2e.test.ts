import { randomBytes, randomUUID } from 'node:crypto';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { approveUpdate, rejectUpdate } from '../../src/members/lifecycle-contract.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeCommittee, makeTenant, seedMiniGeography, type MiniGeography } from '../support/fixtures.ts';
import { applicationFor, awaitInvoice, lifecycleHandle } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let registrar: string;
let ops: string;
let other: Tenant;
let geo: MiniGeography;
const foreignWorkflows: string[] = [];
const ZERO = { awaiting_approval: 0, rejected: 0, awaiting_payment: 0, expired: 0, withdrawn: 0, active: 0, lapsed: 0, suspended: 0, expelled: 0, resigned: 0, deceased: 0 };

const register = async (wardId: string, tenantId = api.tenant.id): Promise<Registered> => {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenantId, { ...applicationFor(api, `${randomUUID()}@example.np`), wardId });
  if (tenantId !== api.tenant.id) foreignWorkflows.push(member.workflowId);
  return member;
};
const awaitingPayment = async (wardId: string) => {
  const member = await register(wardId);
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  await awaitInvoice(lifecycleHandle(api, member.workflowId));
  return member;
};
type Errors = { errors: { code: string; source?: { parameter?: string } }[] };
interface Statistics extends Omit<ApiResponse, 'body'> { body: { data: { id: string; attributes: { byStatus: Record<string, number> } & Record<string, unknown> } } }
interface Stuck extends Omit<ApiResponse, 'body'> {
  body: Errors & { data: { id: string; attributes: { memberId: string; stage: string; stageEnteredAt: string } }[]; meta: { enteredBefore: string } };
}
const statistics = (nodeId: string, token = registrar) => api.request('GET', `/api/statistics/geography/${nodeId}`, { token }) as Promise<Statistics>;
const stuck = (query: string, token = ops) => api.request('GET', `/api/ops/stuck-lifecycles?${query}`, { token }) as Promise<Stuck>;

/** Visibility trails the workflows: poll until the list holds the workflow. */
async function stuckUntilListed(query: string, workflowId: string) {
  for (let i = 0; i < 100; i++) {
    const res = await stuck(query);
    if (res.status !== 200 || res.body.data.some((d) => d.id === workflowId)) return res;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${workflowId} never listed for ${query}`);
}

beforeAll(async () => {
  api = await startApiHarness();
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  ops = (await api.userWithToken({ roles: ['ops'] })).token;
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  geo = await seedMiniGeography(api.db.owner, 'S2');
});
afterAll(async () => {
  await Promise.all(foreignWorkflows.map((id) => api.client.workflow.getHandle(id).terminate('test finished').catch(() => undefined)));
  await api.stop();
});

test("statistics count the caller's members by status over the node's subtree, listing every status", async () => {
  const [ward1, ward2, ward3] = geo.wardIds as [string, string, string];
  await register(ward1);
  await awaitingPayment(ward2);
  const rejected = await register(ward2);
  await sendLifecycleUpdate(api.client, rejected.workflowId, rejectUpdate, { by: 'user:test', reason: 'not resident' });
  await register(ward2, other.id);

  const province = await statistics(geo.provinceId);
  expect(province.status).toBe(200);
  expect(province.body.data).toMatchObject({ type: 'geography-statistics', id: geo.provinceId, attributes: { path: 'ps2', type: 'province', total: 3 } });
  expect(province.body.data.attributes.byStatus).toEqual({ ...ZERO, awaiting_approval: 1, awaiting_payment: 1, rejected: 1 });
  expect((await statistics(ward2)).body.data.attributes.byStatus).toEqual({ ...ZERO, awaiting_payment: 1, rejected: 1 });
  expect((await statistics(ward3)).body.data.attributes).toMatchObject({ total: 0, byStatus: ZERO });
});

test('statistics: a head sees the area the committee covers and not above it; other roles 403; unknown nodes 404', async () => {
  const committee = await makeCommittee(api.db.app, api.tenant.id, geo.localLevelId, 'S2 Municipality Committee');
  const head = (await api.userWithToken({ headOf: [committee] })).token;
  expect((await statistics(geo.wardIds[0]!, head)).status).toBe(200);
  expect((await statistics(geo.localLevelId, head)).status).toBe(200);
  expect((await statistics(geo.districtId, head)).status).toBe(403);
  expect((await statistics(geo.provinceId, (await api.userWithToken({ roles: ['treasurer'] })).token)).status).toBe(403);
  expect((await statistics(geo.provinceId, (await api.userWithToken({ roles: ['ops'] })).token)).status).toBe(200);
  expect((await statistics(randomUUID())).status).toBe(404);
  expect((await statistics('not-a-uuid')).status).toBe(404);
  expect((await api.request('GET', `/api/statistics/geography/${geo.provinceId}`)).status).toBe(401);
});

test('stuck lifecycles list those waiting in the stage for longer than the threshold, and no others', async () => {
  const waiting = await register(api.geo.wardIds[1]!);
  const paying = await awaitingPayment(api.geo.wardIds[1]!);
  const foreign = await register(api.geo.wardIds[1]!, other.id);
  const approval = await stuckUntilListed('stage=AwaitingApproval&olderThanMinutes=0', waiting.workflowId);
  expect(approval.status).toBe(200);
  const ids = approval.body.data.map((d) => d.id);
  expect(ids).not.toContain(paying.workflowId);
  expect(ids).not.toContain(foreign.workflowId);
  expect(approval.body.data.find((d) => d.id === waiting.workflowId)?.attributes).toMatchObject({ memberId: waiting.memberId, stage: 'AwaitingApproval' });
  for (const entry of approval.body.data) expect(Date.parse(entry.attributes.stageEnteredAt)).toBeLessThan(Date.parse(approval.body.meta.enteredBefore));

  const payment = await stuckUntilListed('stage=AwaitingPayment&olderThanMinutes=0', paying.workflowId);
  expect(payment.body.data.map((d) => d.id)).not.toContain(waiting.workflowId);
  const recent = await stuck('stage=AwaitingApproval&olderThanMinutes=60');
  expect(recent.status).toBe(200);
  expect(recent.body.data.map((d) => d.id)).not.toContain(waiting.workflowId);
});

test('stuck lifecycles: a bad stage or threshold names the parameter; only ops and tenant_admin may look', async () => {
  for (const [query, parameter] of [['stage=Sleeping', 'stage'], ['olderThanMinutes=5', 'stage'], ['stage=AwaitingApproval&olderThanMinutes=-1', 'olderThanMinutes']] as const) {
    const res = await stuck(query);
    expect(res.status).toBe(400);
    expect(res.body.errors[0]?.source).toEqual({ parameter });
  }
  expect((await stuck('stage=AwaitingApproval', registrar)).status).toBe(403);
  expect((await stuck('stage=AwaitingApproval', (await api.userWithToken({ roles: ['tenant_admin'] })).token)).status).toBe(200);
  expect((await api.request('GET', '/api/ops/stuck-lifecycles?stage=AwaitingApproval')).status).toBe(401);
});
