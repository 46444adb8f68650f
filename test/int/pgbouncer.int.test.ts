import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { APP_ROLE } from '../../src/db/bootstrap.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { MemberEventHub } from '../../src/events/member-event-hub.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeCommittee, makeTenant, seedMiniGeography, testMasterKey } from '../support/fixtures.ts';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.ts';

/**
 * The product's pool through a real PgBouncer in transaction mode with two server connections:
 * many tenant transactions of two parties interleave on them, and none sees the other's
 * binding or rows.
 */
const SERVER_CONNECTIONS = 2;
const COMMITTEES_EACH = 3;

let db: TestDatabase;
let superuser: DatabasePool;
let bouncer: PgBouncer;
let pool: DatabasePool;
let tenantA: Tenant;
let tenantB: Tenant;

const Binding = z.object({ tenant: z.string().nullable(), pid: z.number() });
const Row = z.object({ tenantId: z.string() });

beforeAll(async () => {
  db = await createTestDatabase();
  const keyring = new Keyring(testMasterKey());
  const geo = await seedMiniGeography(db.owner);
  tenantA = await makeTenant(db.app, keyring, 'bouncer-a', 'BA');
  tenantB = await makeTenant(db.app, keyring, 'bouncer-b', 'BB');
  for (const tenant of [tenantA, tenantB]) {
    for (let i = 0; i < COMMITTEES_EACH; i += 1) await makeCommittee(db.app, tenant.id, geo.wardIds[i]!, `${tenant.slug} ${i}`);
  }
  const superuserUrl = new URL(process.env.TEST_PG_SUPERUSER_URL!);
  superuserUrl.pathname = `/${db.name}`;
  superuser = await createDatabasePool(superuserUrl.toString(), { maximumPoolSize: 1 });
  // What docs/database-pooling.md asks of operators: the timeouts on the role (PgBouncer drops
  // them from the startup packet), and the role's SCRAM secret in PgBouncer's auth_file.
  await superuser.query(sql.unsafe`ALTER ROLE ${sql.identifier([APP_ROLE])} IN DATABASE ${sql.identifier([db.name])} SET statement_timeout = '30s'`);
  await superuser.query(sql.unsafe`ALTER ROLE ${sql.identifier([APP_ROLE])} IN DATABASE ${sql.identifier([db.name])} SET idle_in_transaction_session_timeout = '60s'`);
  const scramSecret = await superuser.oneFirst(sql.type(z.object({ s: z.string() }))`SELECT rolpassword AS s FROM pg_authid WHERE rolname = ${APP_ROLE}`);
  bouncer = await startPgBouncer({
    host: superuserUrl.hostname, port: Number(superuserUrl.port), database: db.name,
    users: [{ name: APP_ROLE, scramSecret }], defaultPoolSize: SERVER_CONNECTIONS, tmpDir: process.env.TEST_TMP_DIR!,
  });
  pool = await createDatabasePool(bouncer.through(db.appUrl), { maximumPoolSize: 20 });
});

afterAll(async () => {
  await pool?.end();
  await bouncer?.stop();
  await superuser?.end();
  await db?.close();
});

test('many interleaved tenant transactions of two parties on two server connections: each sees its own binding and rows only', async () => {
  const pids = new Set<number>();
  const run = async (i: number) => {
    const tenant = i % 2 === 0 ? tenantA : tenantB;
    return withTenant(pool, { tenantId: tenant.id, actor: `test:${i}` }, async (tx) => {
      const before = await tx.one(sql.type(Binding)`SELECT current_setting('app.tenant_id', true) AS tenant, pg_backend_pid() AS pid`);
      // Hold the server connection a little, so other clients' transactions wait and interleave.
      await tx.query(sql.unsafe`SELECT pg_sleep(${(i % 5) / 1000})`);
      const rows = await tx.any(sql.type(Row)`SELECT tenant_id AS "tenantId" FROM committees`);
      const after = await tx.one(sql.type(Binding)`SELECT current_setting('app.tenant_id', true) AS tenant, pg_backend_pid() AS pid`);
      pids.add(before.pid);
      return { tenant: tenant.id, before, after, rows };
    });
  };
  const results = await Promise.all(Array.from({ length: 400 }, (_, i) => run(i)));
  for (const r of results) {
    expect(r.before.tenant).toBe(r.tenant);
    expect(r.after.tenant).toBe(r.tenant);
    // One transaction keeps one server connection from BEGIN to COMMIT.
    expect(r.after.pid).toBe(r.before.pid);
    expect(r.rows).toHaveLength(COMMITTEES_EACH);
    expect(r.rows.every((row) => row.tenantId === r.tenant)).toBe(true);
  }
  // 20 client connections, 400 transactions, on PgBouncer's two server connections.
  expect(pids.size).toBeLessThanOrEqual(SERVER_CONNECTIONS);
});

test('between transactions nothing of a tenant binding is left on the server connections', async () => {
  const writes = Array.from({ length: 100 }, (_, i) => withTenant(pool, { tenantId: (i % 2 ? tenantA : tenantB).id, actor: 'test' }, (tx) => tx.query(sql.unsafe`SELECT 1`)));
  const probes = Array.from({ length: 100 }, () => pool.one(sql.type(z.object({ tenant: z.string().nullable(), committees: z.number() }))`
    SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant, (SELECT count(*)::int FROM committees) AS committees`));
  const [, seen] = await Promise.all([Promise.all(writes), Promise.all(probes)]);
  for (const probe of seen) expect(probe).toEqual({ tenant: null, committees: 0 });
});

test('prepared statements: the driver sends unnamed ones, which work across server connections', async () => {
  // node-postgres parses every parameterised query as the unnamed statement (Parse, Bind, Execute,
  // Sync in one message train): no statement outlives the transaction, so PgBouncer 1.18 needs
  // no max_prepared_statements. The same text with different parameters, many times over:
  const ids = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    withTenant(pool, { tenantId: (i % 2 ? tenantA : tenantB).id, actor: 'test' }, (tx) =>
      tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int + ${i}::int - ${i}::int AS n FROM committees WHERE tenant_id = ${(i % 2 ? tenantA : tenantB).id}`))));
  expect(ids.every((n) => n === COMMITTEES_EACH)).toBe(true);
  const prepared = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM pg_prepared_statements`);
  expect(prepared).toBe(0);
});

test('the timeouts come from the role, since PgBouncer drops them from the startup packet', async () => {
  expect(await pool.oneFirst(sql.type(z.object({ t: z.string() }))`SELECT current_setting('statement_timeout') AS t`)).toBe('30s');
  await expect(withTenant(pool, { tenantId: tenantA.id, actor: 'test' }, async (tx) => {
    await tx.query(sql.unsafe`SET LOCAL statement_timeout = '50ms'`);
    await tx.query(sql.unsafe`SELECT pg_sleep(1)`);
  })).rejects.toThrow(/statement_timeout|cancel/i);
  // SET LOCAL ended with its transaction: the next one on the same server connections has the role's.
  expect(await pool.oneFirst(sql.type(z.object({ t: z.string() }))`SELECT current_setting('statement_timeout') AS t`)).toBe('30s');
});

test('live status streams LISTEN on the direct URL while writes go through PgBouncer', async () => {
  const hub = new MemberEventHub(db.appUrl);
  let woken = 0;
  try {
    const memberId = '00000000-0000-4000-8000-000000000001';
    await hub.subscribe(tenantA.id, memberId, () => { woken += 1; });
    await withTenant(pool, { tenantId: tenantA.id, actor: 'test' }, (tx) =>
      tx.query(sql.unsafe`SELECT pg_notify('member_events', ${`${tenantA.id}:${memberId}:1`})`));
    for (let i = 0; i < 100 && woken === 0; i += 1) await sleep(20);
    expect(woken).toBe(1);
  } finally {
    await hub.stop();
  }
});

test('control: a session-level binding (what enterTenant must never do) leaks to other clients through PgBouncer', async () => {
  // Held client connections, so the pool's reset (DISCARD ALL on release) does not run in between.
  const seen = await pool.connect(async (tainting) => {
    for (let i = 0; i < 4; i += 1) await tainting.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantA.id}, false)`);
    return Promise.all(Array.from({ length: 50 }, () =>
      pool.oneFirst(sql.type(z.object({ tenant: z.string().nullable() }))`SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant`)));
  });
  expect(seen).toContain(tenantA.id);
});
