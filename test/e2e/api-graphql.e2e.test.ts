import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { DatabasePool, Interceptor } from 'slonik';
import { createApp } from '../../api/app.ts';
import { QUERY_LIMITS } from '../../api/graphql/routes.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { contractProblems, documentedRegistry } from '../support/contract.ts';
import { makeCommittee, makeTenant, seedMiniGeography } from '../support/fixtures.ts';
import { applicationFor, asTest, awaitInvoice, lifecycleHandle, paymentFor } from '../support/lifecycle-harness.ts';
import { userOf } from '../faults/support/party-fixtures.ts';
import { sql } from 'slonik';
import { z } from 'zod';

/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are read freely */
interface GraphAnswer { status: number; contentType: string; body: any }

let api: ApiHarness & { stop(): Promise<void> };
let other: Tenant;
let counted: { pool: DatabasePool; server: Server; url: string; queries: string[] };
const tokens: Record<'admin' | 'registrar' | 'treasurer' | 'head' | 'headOutside' | 'member' | 'otherAdmin', string> = {} as never;
/** Members of the harness party, all in its second ward (the harness committee covers it). */
const seeded: { awaitingApproval: Registered[]; awaitingPayment: Registered[]; active: Registered[] } = { awaitingApproval: [], awaitingPayment: [], active: [] };
let foreign: Registered;
const N = 12;

const register = (tenantId = api.tenant.id) =>
  registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenantId, applicationFor(api, `${randomUUID()}@example.np`));

async function approved(): Promise<Registered> {
  const member = await register();
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  await awaitInvoice(lifecycleHandle(api, member.workflowId));
  return member;
}

/** An app on a pool that counts every statement it runs, the same deps otherwise. */
async function countingApp(): Promise<typeof counted> {
  const queries: string[] = [];
  const counter: Interceptor = { name: 'counter', beforeQueryExecution: (_ctx, query) => (queries.push(query.sql.replace(/\s+/g, ' ').trim()), null) };
  const pool = await createDatabasePool(api.db.appUrl, { interceptors: [counter] });
  const app = createApp({ ...api.apiDeps, pool });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  return { pool, server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, queries };
}

async function graphql(token: string | undefined, query: string, variables?: Record<string, unknown>, baseUrl = api.baseUrl): Promise<GraphAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/api/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  const body = text ? JSON.parse(text) as unknown : null;
  const contentType = res.headers.get('content-type') ?? '';
  const problems = contractProblems(documentedRegistry(), { method: 'POST', url: '/api/graphql' }, { status: res.status, contentType, body });
  if (problems.length) throw new Error(`the API broke its OpenAPI contract: ${problems.join('; ')}`);
  return { status: res.status, contentType, body };
}
const codes = (answer: GraphAnswer) => (answer.body.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);

const PAGE = `query Page($first: Int!, $after: String) {
  members(first: $first, after: $after, filter: { status: awaiting_payment }) {
    nodes {
      id fullNameEn statusDetail phone
      ward { code nameEn parent { code parent { code } } statistics { total } }
      committee { name geography { code } }
      invoices { amountMinor currency status payments { amountMinor } }
    }
    pageInfo { endCursor hasNextPage }
  }
}`;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  for (let i = 0; i < N; i++) seeded.awaitingPayment.push(await approved());
  for (let i = 0; i < 2; i++) seeded.awaitingApproval.push(await register());
  const paid = await approved();
  const invoice = await awaitInvoice(lifecycleHandle(api, paid.workflowId));
  await sendLifecycleUpdate(api.client, paid.workflowId, paymentReceivedUpdate, paymentFor(invoice));
  await lifecycleHandle(api, paid.workflowId).result();
  seeded.active.push(paid);
  foreign = await register(other.id);
  const elsewhere = await seedMiniGeography(api.db.owner, 'GQ');
  const outside = await makeCommittee(api.db.app, api.tenant.id, elsewhere.localLevelId, 'Elsewhere Committee');
  tokens.admin = (await api.userWithToken({ roles: ['tenant_admin'] })).token;
  tokens.registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  tokens.treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  tokens.head = await api.tokenFor(api.headUserId);
  tokens.headOutside = (await api.userWithToken({ headOf: [outside] })).token;
  tokens.member = (await api.userWithToken()).token;
  tokens.otherAdmin = (await userOf(api, other, { roles: ['tenant_admin'] })).token;
  counted = await countingApp();
}, 300_000);

afterAll(async () => {
  await new Promise((resolve) => counted.server.close(resolve));
  await counted.pool.end();
  await lifecycleHandle(api, foreign.workflowId).terminate('test over').catch(() => undefined);
  await api.stop();
});

test('the endpoint is in the OpenAPI document, takes only POST, and needs a bearer token', async () => {
  const doc = await (await fetch(`${api.baseUrl}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
  expect(Object.keys(doc.paths['/api/graphql'] ?? {})).toEqual(['post']);
  const anonymous = await graphql(undefined, '{ viewer { userId } }');
  expect(anonymous.status).toBe(401);
  expect(anonymous.body.errors[0].code).toBe('UNAUTHENTICATED');
  expect((await api.request('GET', '/api/graphql?query={viewer{userId}}', { token: tokens.admin })).status).toBe(405);
  const malformed = await api.request('POST', '/api/graphql', { token: tokens.admin, body: { query: 42 }, headers: { 'content-type': 'application/json' } });
  expect(malformed.status).toBe(422);
  expect(malformed.body.errors[0].source.pointer).toBe('/query');
  const mutation = await graphql(tokens.admin, 'mutation { approve }');
  expect(mutation.status).toBe(200);
  expect(mutation.body.data).toBeUndefined();
  expect(mutation.body.errors.length).toBeGreaterThan(0);
});

test('a page of members with ward, committee, statistics, invoices and payments: the same rows as the database, in a fixed number of statements whatever the page size', async () => {
  const statementsFor = async (first: number) => {
    counted.queries.length = 0;
    const answer = await graphql(tokens.admin, PAGE, { first }, counted.url);
    return { answer, statements: [...counted.queries] };
  };
  const small = await statementsFor(2);
  const large = await statementsFor(N);
  expect(small.answer.body.errors).toBeUndefined();
  expect(large.answer.body.errors).toBeUndefined();
  const nodes = large.answer.body.data.members.nodes as any[];
  expect(nodes.map((n) => n.id).sort()).toEqual(seeded.awaitingPayment.map((m) => m.memberId).sort());
  for (const node of nodes) {
    expect(node).toMatchObject({ statusDetail: 'awaiting_payment', phone: expect.any(String), committee: { name: 'Test Municipality Committee', geography: { code: 'LT1' } } });
    expect(node.ward).toMatchObject({ code: 'LT1_W2', parent: { code: 'LT1', parent: { code: 'DT1' } } });
    expect(node.ward.statistics.total).toBe(N + 3);
    expect(node.invoices).toEqual([expect.objectContaining({ status: 'open', currency: 'NPR', payments: [] })]);
  }
  // Invoice amounts as the database has them.
  const amounts = await asTest(api, (tx) => tx.any(sql.type(z.object({ memberId: z.string(), amount: z.number() }))`
    SELECT member_id AS "memberId", amount_minor::int AS amount FROM invoices`));
  for (const node of nodes) expect(node.invoices[0].amountMinor).toBe(amounts.find((a) => a.memberId === node.id)!.amount);
  // The proof of batching: N members cost what 2 do (caller access, tenant binding, then one statement per kind of read).
  process.stdout.write(`\ngraphql page of ${N}: ${large.statements.length} statements (page of 2: ${small.statements.length})\n  ${large.statements.map((s) => s.slice(0, 110)).join('\n  ')}\n`);
  expect(large.statements.length).toBe(small.statements.length);
  // One statement per kind of read and level of the tree (the ward, its parent, its grandparent are three), never one per member.
  expect(large.statements.length).toBeLessThanOrEqual(12);
});

test('paging: the cursor carries on where the page ended, and the pages together hold every member once', async () => {
  const seen: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10; page++) {
    const answer: GraphAnswer = await graphql(tokens.registrar, PAGE, { first: 5, after });
    seen.push(...(answer.body.data.members.nodes as { id: string }[]).map((n) => n.id));
    after = answer.body.data.members.pageInfo.endCursor;
    if (!answer.body.data.members.pageInfo.hasNextPage) break;
  }
  expect(seen.sort()).toEqual(seeded.awaitingPayment.map((m) => m.memberId).sort());
  const bad = await graphql(tokens.registrar, PAGE, { first: 5, after: 'bm90IGEgY3Vyc29y' });
  expect(codes(bad)).toEqual(['INVALID_PARAMETER']);
  const tooLarge = await graphql(tokens.registrar, '{ members(first: 101) { nodes { id } } }');
  expect(codes(tooLarge)).toEqual(['INVALID_PARAMETER']);
});

test('the same authorization and tenant binding as REST: heads see their area, others nothing of the party\'s members', async () => {
  const one = `query One($id: ID!) { member(id: $id) { id fullNameEn phone invoices { id } } }`;
  const id = seeded.awaitingPayment[0]!.memberId;
  // Staff and the head covering the member read it; contacts only for tenant_admin and registrar.
  expect((await graphql(tokens.admin, one, { id })).body.data.member).toMatchObject({ id, phone: expect.any(String) });
  expect((await graphql(tokens.treasurer, one, { id })).body.data.member).toMatchObject({ id, phone: null });
  expect((await graphql(tokens.head, one, { id })).body.data.member).toMatchObject({ id, phone: null });
  // A head elsewhere is refused (as GET /api/members/{id} answers 403), a plain user too.
  for (const token of [tokens.headOutside, tokens.member]) {
    const refused = await graphql(token, one, { id });
    expect(refused.body.data.member).toBeNull();
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(refused.body)).not.toContain('Ram Thapa');
  }
  // Another party's admin: no such member (row-level security), and none of ours in any list.
  const otherParty = await graphql(tokens.otherAdmin, one, { id });
  expect(otherParty.body).toEqual({ data: { member: null } });
  const otherList = await graphql(tokens.otherAdmin, '{ members(first: 100) { nodes { id } } committees { nodes { id name } } }');
  expect(otherList.body.data.members.nodes).toEqual([{ id: foreign.memberId }]);
  expect(otherList.body.data.committees.nodes).toEqual([]);
  // Our admin does not see the other party's member either.
  expect((await graphql(tokens.admin, one, { id: foreign.memberId })).body).toEqual({ data: { member: null } });
  // The head outside lists members and committees of its own area only: none of these.
  const outsideList = await graphql(tokens.headOutside, '{ members(first: 100) { nodes { id } } committees { nodes { name } } }');
  expect(outsideList.body.data.members.nodes).toEqual([]);
  expect(outsideList.body.data.committees.nodes).toEqual([{ name: 'Elsewhere Committee' }]);
  // Through an invoice or a committee, the same rule: the head outside reaches no member of the area.
  const invoiceId = (await graphql(tokens.admin, one, { id })).body.data.member.invoices[0].id as string;
  const viaInvoice = await graphql(tokens.headOutside, 'query I($id: ID!) { invoice(id: $id) { amountMinor member { fullNameEn } } }', { id: invoiceId });
  expect(viaInvoice.body.data.invoice).toBeNull();
  expect(codes(viaInvoice)).toEqual(['FORBIDDEN']);
  const headCommittee = await graphql(tokens.head, 'query C($id: ID!) { committee(id: $id) { name members(first: 50) { id } } }', { id: api.committeeId });
  expect(headCommittee.body.data.committee.members).toHaveLength(N + 3);
  expect(codes(await graphql(tokens.headOutside, 'query C($id: ID!) { committee(id: $id) { name } }', { id: api.committeeId }))).toEqual(['FORBIDDEN']);
  // Geography is shared, the party's committee on a node is not: staff and heads within their areas only.
  const onNode = 'query G($id: ID!) { geographyNode(id: $id) { code committee { name } } }';
  expect((await graphql(tokens.head, onNode, { id: api.geo.localLevelId })).body.data.geographyNode).toEqual({ code: 'LT1', committee: { name: 'Test Municipality Committee' } });
  for (const token of [tokens.headOutside, tokens.member]) {
    const refused = await graphql(token, onNode, { id: api.geo.localLevelId });
    expect([refused.body.data.geographyNode, codes(refused)]).toEqual([{ code: 'LT1', committee: null }, ['FORBIDDEN']]);
  }
});

test('statistics: who REST lets read them, with the same counts', async () => {
  const query = 'query S($id: ID!) { statistics(geography: $id) { total byStatus { status count } } }';
  const rest = await api.request('GET', `/api/statistics/geography/${api.geo.localLevelId}`, { token: tokens.registrar });
  const answer = await graphql(tokens.head, query, { id: api.geo.localLevelId });
  expect(answer.body.data.statistics.total).toBe(rest.body.data.attributes.total);
  expect(Object.fromEntries((answer.body.data.statistics.byStatus as { status: string; count: number }[]).map((s) => [s.status, s.count]))).toEqual(rest.body.data.attributes.byStatus);
  // REST refuses statistics to a treasurer and to a head elsewhere: so does the graph.
  for (const token of [tokens.treasurer, tokens.headOutside]) expect(codes(await graphql(token, query, { id: api.geo.localLevelId }))).toEqual(['FORBIDDEN']);
});

test('depth and cost limits refuse an operation before any of it runs', async () => {
  let deep = '{ code }';
  for (let i = 0; i < QUERY_LIMITS.maxDepth; i++) deep = `{ parent ${deep} }`;
  counted.queries.length = 0;
  const tooDeep = await graphql(tokens.admin, `query Deep($id: ID!) { geographyNode(id: $id) ${deep} }`, { id: api.geo.wardIds[1] }, counted.url);
  expect(codes(tooDeep)).toEqual(['QUERY_TOO_DEEP']);
  expect(tooDeep.body.data).toBeUndefined();
  const costly = await graphql(tokens.admin, '{ members(first: 100) { nodes { committee { members(first: 100) { id fullNameEn } } } } }', undefined, counted.url);
  expect(codes(costly)).toEqual(['QUERY_TOO_COSTLY']);
  // Aliases multiply the cost as they multiply the work; a variable page size counts as the largest.
  const aliases = Array.from({ length: 60 }, (_, i) => `a${i}: members(first: $n) { nodes { id } }`).join(' ');
  expect(codes(await graphql(tokens.admin, `query A($n: Int!) { ${aliases} }`, { n: 1 }, counted.url))).toEqual(['QUERY_TOO_COSTLY']);
  // Fragments count where they are spread; a cycle is refused by graphql's own rule, not looped on.
  const cycle = await graphql(tokens.admin, 'query { viewer { ...A } } fragment A on Viewer { headships { committee { geography { committee { id } } } } ...A }', undefined, counted.url);
  expect(cycle.body.data).toBeUndefined();
  expect(cycle.body.errors.length).toBeGreaterThan(0);
  // Refused operations bound no transaction and read nothing: only each request's caller access.
  expect(counted.queries.every((q) => q.includes('caller_access'))).toBe(true);
  // Within the limits, the same shape answers.
  const within = await graphql(tokens.admin, `query Deep($id: ID!) { geographyNode(id: $id) { parent { parent { code } } } }`, { id: api.geo.wardIds[1] });
  expect(within.body.data.geographyNode.parent.parent.code).toBe('DT1');
});

test('introspection answers the schema, and an unknown field is a validation error, not a server fault', async () => {
  const schema = await graphql(tokens.head, '{ __schema { queryType { fields { name } } } }');
  expect((schema.body.data.__schema.queryType.fields as { name: string }[]).map((f) => f.name).sort())
    .toEqual(['committee', 'committees', 'geographyNode', 'invoice', 'member', 'members', 'statistics', 'viewer']);
  const unknown = await graphql(tokens.head, '{ members { nodes { passwordHash } } }');
  expect(unknown.status).toBe(200);
  expect(codes(unknown)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  const malformedId = await graphql(tokens.admin, '{ member(id: "not-a-uuid") { id } invoice(id: "1\' OR 1=1") { id } }');
  expect(malformedId.body).toEqual({ data: { member: null, invoice: null } });
});
