import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { sql, type DatabasePool, type Interceptor } from 'slonik';
import { createApp } from '../../api/app.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { contractProblems, documentedRegistry } from '../support/contract.ts';
import { applicationFor } from '../support/lifecycle-harness.ts';

/**
 * What a search or a statistics read costs the database, statement by statement: the caller's
 * access is read in the tenant transaction's first statement (no connection of its own), the
 * ward and committee names in one statement, and with a sparse fieldset nothing the answer
 * does not show (no keys, no names).
 */
let api: ApiHarness & { stop(): Promise<void> };
let counted: { pool: DatabasePool; server: Server; url: string; statements: string[] };
let admin: { userId: string; token: string };
let marker: string;

/** An app on a pool that records every statement it runs, the same deps otherwise. */
async function countingApp(): Promise<typeof counted> {
  const statements: string[] = [];
  const counter: Interceptor = { name: 'counter', beforeQueryExecution: (_ctx, query) => (statements.push(query.sql.replace(/\s+/g, ' ').trim()), null) };
  const pool = await createDatabasePool(api.db.appUrl, { interceptors: [counter] });
  const server = createApp({ ...api.apiDeps, pool }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  return { pool, server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, statements };
}

/** One GET on the counting app, held to the OpenAPI document, with the statements it ran. */
async function get(path: string, token: string) {
  counted.statements.length = 0;
  const res = await fetch(`${counted.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json' } });
  const body = await res.json() as { data: { attributes: Record<string, unknown>; relationships?: Record<string, unknown> }[] } & Record<string, unknown>;
  const problems = contractProblems(documentedRegistry(), { method: 'GET', url: path }, { status: res.status, contentType: res.headers.get('content-type') ?? '', body });
  if (problems.length) throw new Error(`the API broke its OpenAPI contract: ${problems.join('; ')}`);
  return { status: res.status, body, statements: [...counted.statements] };
}

const kind = (statement: string) =>
  statement.includes('caller_access(') ? 'caller' : statement.includes('FROM tenant_keys') ? 'keys' : statement.includes('FROM members m') ? 'search'
    : statement.includes('FROM committees c') ? 'places' : statement.includes('FROM geography_nodes') ? 'geography' : statement;

beforeAll(async () => {
  api = await startApiHarness();
  marker = `Roundtrip${Date.now()}`;
  for (let i = 0; i < 3; i++) {
    await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, { ...applicationFor(api, `${randomUUID()}@example.np`), fullNameEn: `${marker} ${i}` });
  }
  admin = await api.userWithToken({ roles: ['tenant_admin'] });
  counted = await countingApp();
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => counted.server.close(resolve));
  await counted.pool.end();
  await api.stop();
});

test("a search binds the tenant and reads the caller and the party's keys in one statement, then the page and its places: three statements", async () => {
  const answer = await get(`/api/members?filter[name]=${marker}`, admin.token);
  expect(answer.status).toBe(200);
  expect(answer.body.data).toHaveLength(3);
  expect(answer.body.data[0]!.attributes).toEqual(expect.objectContaining({ phone: expect.any(String), wardName: expect.objectContaining({ en: expect.any(String) }) }));
  expect(answer.statements.map(kind)).toEqual(['caller', 'search', 'places']);
  // The first statement binds the audit context and reads the keys as well: no separate set_config or key statement.
  expect(answer.statements[0]).toContain("set_config('app.actor'");
  expect(answer.statements[0]).toContain('FROM tenant_keys');
  // A phone looked up with those keys finds its member.
  const phone = answer.body.data[0]!.attributes.phone as string;
  const byPhone = await get(`/api/members?filter[phone]=${encodeURIComponent(phone)}`, admin.token);
  expect(byPhone.body.data.map((m) => m.attributes.phone)).toEqual([phone]);
  expect(byPhone.statements.map(kind)).toEqual(['caller', 'search', 'places']);
});

test('with fields[members], a search reads no places when the fieldset names none, and answers only those fields', async () => {
  const answer = await get(`/api/members?filter[name]=${marker}&fields[members]=fullNameEn,statusDetail&page[size]=2`, admin.token);
  expect(answer.status).toBe(200);
  expect(answer.statements.map(kind)).toEqual(['caller', 'search']);
  for (const member of answer.body.data) {
    expect(Object.keys(member.attributes).toSorted()).toEqual(['fullNameEn', 'statusDetail']);
    expect(member.relationships).toEqual({});
  }
  // The next page keeps the fieldset.
  expect(answer.body.links).toEqual({ next: expect.stringContaining('fields%5Bmembers%5D=fullNameEn%2CstatusDetail') });
  const phone = await get(`/api/members?filter[name]=${marker}&fields[members]=phone,committee`, admin.token);
  expect(phone.statements.map(kind)).toEqual(['caller', 'search']);
  expect(Object.keys(phone.body.data[0]!.attributes)).toEqual(['phone']);
  expect(Object.keys(phone.body.data[0]!.relationships!)).toEqual(['committee']);
  const unknown = await get('/api/members?fields[members]=fullNameEn,password', admin.token);
  expect(unknown.status).toBe(400);
  expect(unknown.body).toEqual({ errors: [expect.objectContaining({ source: { parameter: 'fields.members' } })] });
});

test("a search by area reads the node's path once; later searches by it read no geography, and an unknown node is still refused", async () => {
  const path = `/api/members?filter[geography]=${api.geo.localLevelId}&fields[members]=fullNameEn`;
  const first = await get(path, admin.token);
  expect(first.status).toBe(200);
  expect(first.body.data.length).toBeGreaterThanOrEqual(3);
  expect(first.statements.map(kind)).toEqual(['caller', 'geography', 'search']);
  const again = await get(path, admin.token);
  expect(again.statements.map(kind)).toEqual(['caller', 'search']);
  expect(again.body.data).toEqual(first.body.data);
  const unknown = await get(`/api/members?filter[geography]=${randomUUID()}`, admin.token);
  expect([unknown.status, unknown.body]).toEqual([400, { errors: [expect.objectContaining({ code: 'UNKNOWN_GEOGRAPHY', source: { parameter: 'filter[geography]' } })] }]);
});

test('statistics: the caller in the first statement, then the node with its counts in one; as of a date, the node then the events', async () => {
  const answer = await get(`/api/statistics/geography/${api.geo.wardIds[0]}`, admin.token);
  expect(answer.status).toBe(200);
  expect(answer.body.data).toEqual(expect.objectContaining({ attributes: expect.objectContaining({ total: expect.any(Number) }) }));
  expect(answer.statements.map(kind)).toEqual(['caller', 'geography']);
  expect(answer.statements[1]).toContain('member_count');
  const asOf = await get(`/api/statistics/geography/${api.geo.wardIds[0]}?asOf=${new Date().toISOString().slice(0, 10)}`, admin.token);
  expect(asOf.status).toBe(200);
  expect(asOf.statements.map(kind).slice(0, 2)).toEqual(['caller', 'geography']);
  expect((await get(`/api/statistics/geography/${randomUUID()}`, admin.token)).status).toBe(404);
});

test('a disabled user is refused by that first statement, before anything else runs', async () => {
  const gone = await api.userWithToken({ roles: ['tenant_admin'] });
  await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`UPDATE users SET is_active = false WHERE id = ${gone.userId}`));
  for (const path of [`/api/members?filter[name]=${marker}`, `/api/statistics/geography/${api.geo.wardIds[0]}`]) {
    const answer = await get(path, gone.token);
    expect([answer.status, answer.body]).toEqual([401, { errors: [expect.objectContaining({ code: 'UNAUTHENTICATED' })] }]);
    expect(answer.statements.map(kind)).toEqual(['caller']);
  }
  // A bad query from a disabled user is still refused as unauthenticated first.
  expect((await get('/api/members?filter[status]=sleeping', gone.token)).status).toBe(401);
});
