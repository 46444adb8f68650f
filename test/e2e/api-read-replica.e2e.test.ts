/**
 * The API with a real streaming replica behind its read path (DATABASE_READ_URL): a head who
 * approves an application and then searches finds the member approved even while the replica
 * has not replayed the approval; another user's search, served by the replica, does not until
 * replay resumes.
 */
import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { createDatabasePool } from '../../src/db/pool.ts';
import { ReadRouting } from '../../src/db/read-routing.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { applicationFor } from '../support/lifecycle-harness.ts';
import { startReplica, type Replica } from '../support/replica.ts';

let api: ApiHarness & { stop(): Promise<void> };
let replica: Replica;
let replicaApp: DatabasePool;
let replicaSuperuser: DatabasePool;
let routing: ReadRouting;
const sources: string[] = [];
let replicaQueries = 0;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  replica = await startReplica(process.env.TEST_PG_SUPERUSER_URL!, process.env.TEST_TMP_DIR!);
  replicaApp = await createDatabasePool(replica.at(api.db.appUrl), {
    maximumPoolSize: 4,
    interceptors: [{ name: 'count', beforeQueryExecution: () => { replicaQueries += 1; return null; } }],
  });
  replicaSuperuser = await createDatabasePool(replica.superuserUrl, { maximumPoolSize: 1 });
  routing = new ReadRouting(api.db.app, replicaApp, { waitMs: 300, onFallback: (reason) => sources.push(`primary:${reason}`) });
  api.apiDeps.reads = routing;
}, 180_000);

afterAll(async () => {
  await replicaApp?.end();
  await replicaSuperuser?.end();
  await replica?.stop();
  await api?.stop();
});

const search = async (token: string) => {
  const res = await api.request('GET', '/api/members?filter[status]=awaiting_payment&page[size]=100', { token });
  expect(res.status).toBe(200);
  return (res.body.data as { id: string }[]).map((m) => m.id);
};

test('after approving, the head\'s own search sees the approval although the replica has not replayed it; others see the replica', async () => {
  const head = await api.tokenFor(api.headUserId);
  const other = await api.userWithToken({ roles: ['registrar'] });
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  await routing.noteWrite('sync');
  await routing.read('sync', { tenantId: api.tenant.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`SELECT 1`));

  await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_pause()`);
  try {
    const approved = await api.request('POST', `/api/members/${member.memberId}/approve`, { token: head });
    expect(approved.status).toBe(200);
    sources.length = 0;
    expect(await search(head)).toContain(member.memberId);
    expect(sources).toEqual(['primary:behind']);
    // The registrar changed nothing (a GraphQL read is a POST that changes nothing): the replica answers, as it stands.
    const graph = await api.request('POST', '/api/graphql', { token: other.token, body: { query: '{ __typename }' }, headers: { 'content-type': 'application/json' } });
    expect(graph.status).toBe(200);
    expect(await search(other.token)).not.toContain(member.memberId);
    expect(sources).toEqual(['primary:behind']);
  } finally {
    await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_resume()`);
  }
  let seen = await search(other.token);
  for (const until = Date.now() + 10_000; !seen.includes(member.memberId) && Date.now() < until;) seen = await search(other.token);
  expect(seen).toContain(member.memberId);
});

test('statistics and dues figures read from the replica', async () => {
  const treasurer = await api.userWithToken({ roles: ['treasurer', 'registrar'] });
  sources.length = 0;
  const before = replicaQueries;
  const statistics = await api.request('GET', `/api/statistics/geography/${api.geo.provinceId}`, { token: treasurer.token });
  expect(statistics.status).toBe(200);
  const afterStatistics = replicaQueries;
  const dues = await api.request('GET', '/api/finance/dues?from=2026-01-01&to=2026-01-31', { token: treasurer.token });
  expect(dues.status).toBe(200);
  expect(afterStatistics).toBeGreaterThan(before);
  expect(replicaQueries).toBeGreaterThan(afterStatistics);
  expect(sources).toEqual([]);
});
