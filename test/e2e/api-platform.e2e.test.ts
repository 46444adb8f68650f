import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { findTenantBySlug } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';

interface Resource { type: string; id: string; attributes: Record<string, unknown> }
interface ErrorObject { status: string; code: string; source?: { pointer?: string } }
const one = (res: ApiResponse) => (res.body as { data: Resource }).data;
const many = (res: ApiResponse) => (res.body as { data: Resource[] }).data;
const errors = (res: ApiResponse) => (res.body as { errors: ErrorObject[] }).errors;

let api: ApiHarness & { stop(): Promise<void> };
let adminKey: string;

beforeAll(async () => {
  api = await startApiHarness();
  adminKey = api.apiDeps.platformAdminKey!;
});
afterAll(() => api.stop());

const party = (attributes: Record<string, unknown> = {}) => ({
  data: {
    type: 'tenants',
    attributes: { slug: 'nepali-congress', name: 'Nepali Congress', memberNumberPrefix: 'NC', feeSchedule: { currency: 'NPR', admissionFeeMinor: 25_000 }, ...attributes },
  },
});
const create = (body: unknown, token = adminKey) => api.request('POST', '/api/platform/tenants', { token, body });
const tenantCount = () => api.db.app.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int4 AS n FROM tenants`);

test('without the platform key, or with a wrong one or a user token, both routes answer 401', async () => {
  const { token: userToken } = await api.userWithToken({ roles: ['tenant_admin'] });
  const before = await tenantCount();
  for (const token of [undefined, `${adminKey}x`, userToken]) {
    const created = await api.request('POST', '/api/platform/tenants', { body: party({ slug: 'intruder' }), ...(token ? { token } : {}) });
    expect(created.status).toBe(401);
    expect(errors(created)[0]).toMatchObject({ status: '401', code: 'UNAUTHENTICATED' });
    expect((await api.request('GET', '/api/platform/tenants', token ? { token } : {})).status).toBe(401);
  }
  expect(await tenantCount()).toBe(before);
});

test('the platform admin creates a party: 201 with the tenant resource, keys provisioned, listed', async () => {
  const res = await create(party({ approvalReminderAfterMs: 3_600_000, approvalEscalationAfterMs: 7_200_000 }));
  expect(res.status).toBe(201);
  expect(res.headers.get('content-type')).toContain('application/vnd.api+json');
  const tenant = one(res);
  expect([tenant.type, tenant.id]).toEqual(['tenants', expect.stringMatching(/^[0-9a-f-]{36}$/)]);
  expect(tenant.attributes).toEqual({
    slug: 'nepali-congress', name: 'Nepali Congress', memberNumberPrefix: 'NC', feeSchedule: { currency: 'NPR', admissionFeeMinor: 25_000 },
    approvalReminderAfterMs: 3_600_000, approvalEscalationAfterMs: 7_200_000, paymentWindowMs: 14 * 86_400_000,
    cardValidityMs: 5 * 365.25 * 86_400_000, timeZone: 'Asia/Kathmandu',
    termLengthMonths: 12, renewalFeeMinor: 25_000, renewalNoticeDays: 30, gracePeriodDays: 60, reinstatementWindowDays: 365,
    calendar: 'BS', duesSplit: { national: 40, province: 20, district: 20, localLevel: 20 },
  });
  const stored = await findTenantBySlug(api.db.app, 'nepali-congress');
  expect(stored?.id).toBe(tenant.id);
  const keys = await withTenant(api.db.app, { tenantId: tenant.id, actor: 'test' }, (tx) => api.keyring.forTenant(tx, tenant.id));
  expect(keys.tenantId).toBe(tenant.id);

  const list = await api.request('GET', '/api/platform/tenants', { token: adminKey });
  expect(list.status).toBe(200);
  expect(many(list)).toEqual(expect.arrayContaining([
    { type: 'tenants', id: tenant.id, attributes: { slug: 'nepali-congress', name: 'Nepali Congress' } },
    { type: 'tenants', id: api.tenant.id, attributes: { slug: api.tenant.slug, name: api.tenant.name } },
  ]));
  const slugs = many(list).map((t) => String(t.attributes.slug));
  expect(slugs).toEqual([...slugs].sort());
});

test('a taken slug answers 409 SLUG_TAKEN pointing at the slug, and creates nothing', async () => {
  const before = await tenantCount();
  const res = await create(party({ slug: api.tenant.slug, name: 'Impostor', memberNumberPrefix: 'IMP' }));
  expect(res.status).toBe(409);
  expect(errors(res)).toEqual([expect.objectContaining({ status: '409', code: 'SLUG_TAKEN', source: { pointer: '/data/attributes/slug' } })]);
  expect(await tenantCount()).toBe(before);
});

test.each([
  ['a lower-case prefix', party({ slug: 'p1', memberNumberPrefix: 'nc' }), '/data/attributes/memberNumberPrefix'],
  ['a bad slug', party({ slug: 'Not A Slug' }), '/data/attributes/slug'],
  ['no fee schedule', party({ slug: 'p2', feeSchedule: undefined }), '/data/attributes/feeSchedule'],
  ['a fractional fee', party({ slug: 'p3', feeSchedule: { currency: 'NPR', admissionFeeMinor: 12.5 } }), '/data/attributes/feeSchedule/admissionFeeMinor'],
  ['an escalation before the reminder', party({ slug: 'p4', approvalReminderAfterMs: 7_200_000, approvalEscalationAfterMs: 3_600_000 }), '/data/attributes/approvalEscalationAfterMs'],
  ['an unknown time zone', party({ slug: 'p5', timeZone: 'Mars/Olympus' }), '/data/attributes/timeZone'],
  ['the wrong resource type', { data: { ...party({ slug: 'p6' }).data, type: 'parties' } }, '/data/type'],
])('%s answers 422 naming the field', async (_name, body, pointer) => {
  const before = await tenantCount();
  const res = await create(body);
  expect(res.status).toBe(422);
  expect(errors(res)).toEqual([expect.objectContaining({ status: '422', code: 'VALIDATION_FAILED', source: { pointer } })]);
  expect(await tenantCount()).toBe(before);
});

test('the platform admin reads one party with its settings, terms and dues split included; an unknown slug is 404; no key, 401', async () => {
  const res = await api.request('GET', `/api/platform/tenants/${api.tenant.slug}`, { token: adminKey });
  expect(res.status).toBe(200);
  expect(one(res)).toEqual({ type: 'tenants', id: api.tenant.id, attributes: expect.objectContaining({
    slug: api.tenant.slug, termLengthMonths: 12, renewalFeeMinor: 50_000, renewalNoticeDays: 30, gracePeriodDays: 60, reinstatementWindowDays: 365,
    calendar: 'BS', duesSplit: { national: 40, province: 20, district: 20, localLevel: 20 } }) });
  const missing = await api.request('GET', '/api/platform/tenants/no-such-party', { token: adminKey });
  expect([missing.status, errors(missing)[0]?.code]).toEqual([404, 'TENANT_NOT_FOUND']);
  // A slug no party can have (a NUL byte, which Postgres refuses in text) names nothing: 404 like any path that cannot, never a 500.
  const malformed = await api.request('GET', '/api/platform/tenants/%00', { token: adminKey });
  expect([malformed.status, errors(malformed)[0]?.code]).toEqual([404, 'NOT_FOUND']);
  const { token: userToken } = await api.userWithToken({ roles: ['tenant_admin'] });
  expect((await api.request('GET', `/api/platform/tenants/${api.tenant.slug}`, { token: userToken })).status).toBe(401);
});

test('both routes are in the OpenAPI document under the platform key', async () => {
  const doc = await api.request('GET', '/openapi.json');
  const operations = (doc.body as { paths: Record<string, Record<string, { security?: unknown }>> }).paths['/api/platform/tenants'] ?? {};
  expect(Object.keys(operations).sort()).toEqual(['get', 'post']);
  expect(operations.post?.security).toEqual([{ platformKey: [] }]);
  expect(operations.get?.security).toEqual([{ platformKey: [] }]);
});
