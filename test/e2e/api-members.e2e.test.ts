import { sql } from 'slonik';
import { z } from 'zod';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { createTenant } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeCommittee, seedMiniGeography } from '../support/fixtures.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

let api: ApiHarness & { stop(): Promise<void> };
let head: { token: string };
let outsider: { token: string };
let admin: { token: string };
let nobody: { token: string };
let phone = 0;

const applicationBody = (overrides: Record<string, unknown> = {}) => ({
  data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: 'Hari Prasad Oli', fullNameNe: 'हरि प्रसाद ओली', gender: 'M', phone: `98${String(60_000_000 + ++phone)}`, email: `hari${phone}@example.np`, wardId: api.geo.wardIds[0], ...overrides } },
});
const apply = (overrides: Record<string, unknown> = {}) => api.request('POST', `/api/parties/${api.tenant.slug}/applications`, { body: applicationBody(overrides) });
const memberCount = () => api.db.owner.transaction(async (tx) => {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${api.tenant.id}, true)`);
  return tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`);
});

beforeAll(async () => {
  api = await startApiHarness();
  head = { token: await api.tokenFor(api.headUserId) };
  const elsewhere = await seedMiniGeography(api.db.owner, 'T2');
  outsider = await api.userWithToken({ headOf: [await makeCommittee(api.db.app, api.tenant.id, elsewhere.localLevelId, 'Elsewhere')] });
  admin = await api.userWithToken({ roles: ['tenant_admin'] });
  nobody = await api.userWithToken();
});
afterAll(() => api.stop());

test('an applicant registers: 201, pending, with a private status link that works', async () => {
  const res = await apply();
  expect(res.status).toBe(201);
  expect(res.body.data).toMatchObject({ type: 'members', attributes: { status: 'pending', fullNameEn: 'Hari Prasad Oli', memberNumber: null } });
  expect(res.body.data.attributes.phone).toBeUndefined();
  const link = new URL(res.body.data.links.status);
  const status = await api.request('GET', `${link.pathname}${link.search}`);
  expect(status.status).toBe(200);
  expect(status.body.data.id).toBe(res.body.data.id);
  const wrong = await api.request('GET', `${link.pathname}?token=${'x'.repeat(32)}`);
  expect(wrong.status).toBe(404);
});

/** An answer with what differs between any two applications (ids, names, times, secrets) taken out. */
const shapeOf = (res: ApiResponse) => ({
  status: res.status,
  location: typeof res.headers.get('location'),
  attributes: { ...res.body.data.attributes, fullNameEn: '-', fullNameNe: '-', registeredAt: typeof res.body.data.attributes.registeredAt },
  relationships: res.body.data.relationships.committee,
  links: Object.keys(res.body.data.links),
});

test('an application with a phone or email the party holds is answered exactly like a new one, and so is its status link', async () => {
  const first = await apply();
  const phoneUsed = `98${String(60_000_000 + phone)}`;
  const emailUsed = `hari${phone}@example.np`;
  expect(first.status).toBe(201);
  const before = await memberCount();
  const samePhone = await apply({ phone: `+977-${phoneUsed}`, fullNameEn: 'Someone Else' });
  const sameEmail = await apply({ email: emailUsed.toUpperCase() });
  const fresh = await apply();
  expect(shapeOf(samePhone)).toEqual(shapeOf(fresh));
  expect(shapeOf(sameEmail)).toEqual(shapeOf(fresh));
  expect(await memberCount()).toBe(before + 1);
  const follow = (res: ApiResponse) => {
    const link = new URL(res.body.data.links.status);
    return api.request('GET', `${link.pathname}${link.search}`);
  };
  const [refusedStatus, freshStatus] = [await follow(samePhone), await follow(fresh)];
  expect([refusedStatus.status, refusedStatus.body.data.id, refusedStatus.body.data.attributes.status]).toEqual([200, samePhone.body.data.id, 'pending']);
  expect({ ...refusedStatus.body.data.attributes, fullNameEn: '-', registeredAt: '-' }).toEqual({ ...freshStatus.body.data.attributes, fullNameEn: '-', registeredAt: '-' });
});

test('an Idempotency-Key makes registration safe to repeat; another application under the key answers 422', async () => {
  const key = crypto.randomUUID();
  const body = applicationBody();
  const send = (b: unknown) => api.request('POST', `/api/parties/${api.tenant.slug}/applications`, { body: b, headers: { 'idempotency-key': key } });
  const [once, twice] = await Promise.all([send(body), send(body)]);
  expect([once.status, twice.status]).toEqual([201, 201]);
  expect(twice.body.data.id).toBe(once.body.data.id);
  expect(twice.body.data.links.status).toBe(once.body.data.links.status);
  const other = await send({ data: { ...body.data, attributes: { ...body.data.attributes, fullNameEn: 'Another Person' } } });
  expect([other.status, other.body.errors[0]?.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
  const bad = await api.request('POST', `/api/parties/${api.tenant.slug}/applications`, { body: applicationBody(), headers: { 'idempotency-key': 'short' } });
  expect([bad.status, bad.body.errors[0]?.source]).toEqual([400, { header: 'idempotency-key' }]);
});

test.each([
  ['a bad phone', { phone: '12' }, '/data/attributes/phone'],
  ['a missing name', { fullNameEn: undefined }, '/data/attributes/fullNameEn'],
  ['an unknown gender', { gender: 'X' }, '/data/attributes/gender'],
  ['a malformed ward id', { wardId: 'ward-3' }, '/data/attributes/wardId'],
  ['a bad email', { email: 'not-an-email' }, '/data/attributes/email'],
  ['an impossible date of birth', { dateOfBirth: '1990-02-31' }, '/data/attributes/dateOfBirth'],
])('%s answers 422 naming the field and changes nothing', async (_name, overrides, pointer) => {
  const before = await memberCount();
  const res = await apply(overrides);
  expect(res.status).toBe(422);
  expect(res.body.errors.map((e: { source: { pointer: string } }) => e.source.pointer)).toContain(pointer);
  expect(await memberCount()).toBe(before);
});

test('an unknown ward answers 422 and registers nothing', async () => {
  const before = await memberCount();
  const res = await apply({ wardId: crypto.randomUUID() });
  expect(res.status).toBe(422);
  expect(res.body.errors[0]).toMatchObject({ code: 'UNKNOWN_WARD', source: { pointer: '/data/attributes/wardId' } });
  expect(await memberCount()).toBe(before);
});

test('an unknown party answers 404', async () => {
  const res = await api.request('POST', '/api/parties/no-such-party/applications', { body: applicationBody() });
  expect(res.status).toBe(404);
});

test('reading a member: heads of the covering committee and staff may; others get 403; another party\'s id is 404', async () => {
  const id = (await apply()).body.data.id as string;
  const asHead = await api.request('GET', `/api/members/${id}?include=geography,committee`, { token: head.token });
  expect(asHead.status).toBe(200);
  expect(asHead.body.data.attributes.phone).toMatch(/^\+97798/);
  expect(asHead.body.included.map((r: { type: string }) => r.type).sort()).toEqual(['committees', 'geography-nodes']);
  expect((await api.request('GET', `/api/members/${id}`, { token: admin.token })).status).toBe(200);
  expect((await api.request('GET', `/api/members/${id}`, { token: outsider.token })).status).toBe(403);
  expect((await api.request('GET', `/api/members/${id}`, { token: nobody.token })).status).toBe(403);

  const other = await createTenant(api.db.app, api.keyring, { slug: 'other-party', name: 'Other', memberNumberPrefix: 'OP', feeSchedule: { currency: 'NPR', admissionFeeMinor: 100 } }, 'test');
  const foreign = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, other.id,
    ApplicationSchema.parse({ fullNameEn: 'Foreign', gender: 'F', phone: '9851999999', wardId: api.geo.wardIds[0] }));
  for (const path of [`/api/members/${foreign.memberId}`, `/api/members/${foreign.memberId}/approve`]) {
    const res = await api.request(path.endsWith('approve') ? 'POST' : 'GET', path, { token: admin.token, body: path.endsWith('approve') ? { data: { type: 'approvals', attributes: {} } } : undefined });
    expect(res.status).toBe(404);
  }
});

test('approval: only a head covering the ward; a second decision is 409', async () => {
  const id = (await apply()).body.data.id as string;
  const approve = (token: string) => api.request('POST', `/api/members/${id}/approve`, { token, body: { data: { type: 'approvals', attributes: { note: 'ok' } } } });
  expect((await approve(outsider.token)).status).toBe(403);
  expect((await approve(admin.token)).status).toBe(403);
  const ok = await approve(head.token);
  expect(ok.status).toBe(200);
  expect(ok.body.data.attributes.approvedAt).not.toBeNull();
  const again = await api.request('POST', `/api/members/${id}/reject`, { token: head.token, body: { data: { type: 'rejections', attributes: { reason: 'second thoughts' } } } });
  expect(again.status).toBe(409);
  expect(again.body.errors[0].code).toBe('MEMBER_NOT_AWAITING_APPROVAL');
});

test('a head may approve with an empty POST, as the document allows; a rejection without a body is refused, as it says', async () => {
  const id = (await apply()).body.data.id as string;
  const refused = await api.request('POST', `/api/members/${id}/reject`, { token: head.token });
  expect([refused.status, refused.body.errors[0]?.code]).toEqual([422, 'VALIDATION_FAILED']);
  const approved = await api.request('POST', `/api/members/${id}/approve`, { token: head.token });
  expect(approved.status).toBe(200);
  expect(approved.body.data.attributes.approvedAt).not.toBeNull();
  const document = (await api.request('GET', '/openapi.json')).body;
  expect(document.paths['/api/members/{id}/approve'].post.requestBody.required).toBe(false);
  expect(document.paths['/api/members/{id}/reject'].post.requestBody.required).toBe(true);
});

test('rejection needs a reason, named when missing', async () => {
  const id = (await apply()).body.data.id as string;
  const res = await api.request('POST', `/api/members/${id}/reject`, { token: head.token, body: { data: { type: 'rejections', attributes: {} } } });
  expect(res.status).toBe(422);
  expect(res.body.errors[0].source.pointer).toBe('/data/attributes/reason');
  const done = await api.request('POST', `/api/members/${id}/reject`, { token: head.token, body: { data: { type: 'rejections', attributes: { reason: 'not a resident' } } } });
  expect(done.status).toBe(200);
  expect(done.body.data.attributes.status).toBe('rejected');
});

test('search filters by name, phone, status, subtree and committee, pages with a cursor, and includes', async () => {
  const marker = `Zzyzx${Date.now()}`;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await apply({ fullNameEn: `${marker} ${i}`, wardId: api.geo.wardIds[i] })).body.data.id as string);
  const search = (query: string, token = admin.token) => api.request('GET', `/api/members?${query}`, { token });
  const byName = await search(`filter[name]=${marker}&page[size]=2&include=geography`);
  expect(byName.status).toBe(200);
  expect(byName.body.data.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
  expect(byName.body.included.every((r: { type: string }) => r.type === 'geography-nodes')).toBe(true);
  const next = await api.request('GET', byName.body.links.next as string, { token: admin.token });
  expect(next.body.data.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
  expect(next.body.links.next).toBeNull();
  // Oldest first (a head's inbox), page by page: the next link keeps the order.
  const oldest = await search(`filter[name]=${marker}&page[size]=2&sort=registeredAt`);
  expect(oldest.body.data.map((m: { id: string }) => m.id)).toEqual([ids[0], ids[1]]);
  expect(oldest.body.links.next).toContain('sort=registeredAt');
  expect((await api.request('GET', oldest.body.links.next as string, { token: admin.token })).body.data.map((m: { id: string }) => m.id)).toEqual([ids[2]]);
  expect((await search('sort=fullNameEn')).body.errors[0].source.parameter).toBe('sort');
  const phoneOf = (await api.request('GET', `/api/members/${ids[1]}`, { token: admin.token })).body.data.attributes.phone as string;
  expect((await search(`filter[phone]=${encodeURIComponent(phoneOf)}`)).body.data.map((m: { id: string }) => m.id)).toEqual([ids[1]]);
  expect((await search(`filter[name]=${marker}&filter[geography]=${api.geo.wardIds[2]}`)).body.data.map((m: { id: string }) => m.id)).toEqual([ids[2]]);
  expect((await search(`filter[name]=${marker}&filter[geography]=${api.geo.provinceId}`)).body.data).toHaveLength(3);
  expect((await search(`filter[name]=${marker}&filter[committee]=${api.committeeId}&filter[status]=awaiting_approval`)).body.data).toHaveLength(3);
  expect((await search(`filter[name]=${marker}&filter[registeredFrom]=2190-01-01`)).body.data).toHaveLength(0);
  expect((await search(`filter[name]=${marker}`, outsider.token)).body.data).toHaveLength(0);
  expect((await search(`filter[name]=${marker}`, head.token)).body.data).toHaveLength(3);
  expect((await search('filter[status]=sleeping')).status).toBe(400);
  expect((await search('filter[status]=sleeping')).body.errors[0].source.parameter).toBe('filter.status');
  expect((await search('page[cursor]=bogus')).status).toBe(400);
  expect((await search('filter[name]=xy', nobody.token)).status).toBe(403);
});
