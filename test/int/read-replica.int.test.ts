import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { ReadRouting } from '../../src/db/read-routing.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeCommittee, makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';
import { startReplica, type Replica } from '../support/replica.ts';

/**
 * A real streaming replica of the test cluster (pg_basebackup -R, hot standby) behind the read
 * path: reads land on it, writes cannot, row-level security holds there, and a reader who has
 * just changed something sees the change even while the replica has not replayed it.
 */
const WAIT_MS = 1_500;

let db: TestDatabase;
let replica: Replica;
let replicaApp: DatabasePool;
let replicaSuperuser: DatabasePool;
let routing: ReadRouting;
let geo: MiniGeography;
let tenantA: Tenant;
let tenantB: Tenant;
const fallbacks: string[] = [];

const InRecovery = z.object({ r: z.boolean() });
const Names = z.object({ name: z.string(), tenantId: z.string() });
const committees = (tx: Parameters<Parameters<typeof withTenant>[2]>[0]) => tx.any(sql.type(Names)`SELECT name, tenant_id AS "tenantId" FROM committees ORDER BY name`);

beforeAll(async () => {
  db = await createTestDatabase();
  const keyring = new Keyring(testMasterKey());
  geo = await seedMiniGeography(db.owner);
  tenantA = await makeTenant(db.app, keyring, 'replica-a', 'RA');
  tenantB = await makeTenant(db.app, keyring, 'replica-b', 'RB');
  await makeCommittee(db.app, tenantA.id, geo.wardIds[0]!, 'A first');
  await makeCommittee(db.app, tenantB.id, geo.wardIds[0]!, 'B first');
  replica = await startReplica(process.env.TEST_PG_SUPERUSER_URL!, process.env.TEST_TMP_DIR!);
  replicaApp = await createDatabasePool(replica.at(db.appUrl), { maximumPoolSize: 4 });
  replicaSuperuser = await createDatabasePool(replica.superuserUrl, { maximumPoolSize: 1 });
  routing = new ReadRouting(db.app, replicaApp, { waitMs: WAIT_MS, onFallback: (reason) => fallbacks.push(reason) });
}, 120_000);

afterAll(async () => {
  await replicaApp?.end();
  await replicaSuperuser?.end();
  await replica?.stop();
  await db?.close();
});

async function replayed(): Promise<void> {
  await routing.noteWrite('sync');
  await routing.read('sync', { tenantId: tenantA.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`SELECT 1`));
}

test('reads run on the replica; writes never can', async () => {
  const read = await routing.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(InRecovery)`SELECT pg_is_in_recovery() AS r`));
  expect(read).toEqual({ value: true, source: 'replica' });
  expect(await withTenant(db.app, { tenantId: tenantA.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(InRecovery)`SELECT pg_is_in_recovery() AS r`))).toBe(false);
  await expect(routing.read('reader', { tenantId: tenantA.id, actor: 'test' }, (tx) =>
    tx.query(sql.unsafe`INSERT INTO committees (tenant_id, geography_id, name) VALUES (${tenantA.id}, ${geo.wardIds[1]!}, 'written to a replica')`))).rejects.toThrow(/read-only transaction/);
});

test('row-level security holds on the replica: each party reads its own rows, an unbound session none', async () => {
  await replayed();
  const a = await routing.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, committees);
  const b = await routing.readFrom('reader', { tenantId: tenantB.id, actor: 'test' }, committees);
  expect(a.source).toBe('replica');
  expect(a.value.map((c) => c.tenantId)).toEqual([tenantA.id]);
  expect(b.value.map((c) => c.tenantId)).toEqual([tenantB.id]);
  expect(await replicaApp.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM committees`)).toBe(0);
});

test('read-your-writes: with replay paused, the writer reads its change from the primary, others read the replica as it is', async () => {
  await replayed();
  await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_pause()`);
  try {
    await makeCommittee(db.app, tenantA.id, geo.wardIds[1]!, 'A second');
    await routing.noteWrite('writer');
    fallbacks.length = 0;
    const started = Date.now();
    const writer = await routing.readFrom('writer', { tenantId: tenantA.id, actor: 'test' }, committees);
    const waited = Date.now() - started;
    expect(writer.source).toBe('primary');
    expect(writer.value.map((c) => c.name)).toEqual(['A first', 'A second']);
    expect(waited).toBeGreaterThanOrEqual(WAIT_MS);
    expect(fallbacks).toEqual(['behind']);
    // Someone who changed nothing reads the replica, which has not replayed the change yet.
    const other = await routing.readFrom('someone-else', { tenantId: tenantA.id, actor: 'test' }, committees);
    expect(other.source).toBe('replica');
    expect(other.value.map((c) => c.name)).toEqual(['A first']);
  } finally {
    await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_resume()`);
  }
});

test('read-your-writes: a writer\'s read waits for the replica to replay its change, then reads there', async () => {
  await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_pause()`);
  let resumed = false;
  try {
    await makeCommittee(db.app, tenantA.id, geo.wardIds[2]!, 'A third');
    await routing.noteWrite('writer');
    setTimeout(() => {
      resumed = true;
      void replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_resume()`);
    }, 300);
    const writer = await routing.readFrom('writer', { tenantId: tenantA.id, actor: 'test' }, committees);
    expect(resumed).toBe(true);
    expect(writer.source).toBe('replica');
    expect(writer.value.map((c) => c.name)).toEqual(['A first', 'A second', 'A third']);
  } finally {
    if (!resumed) await replicaSuperuser.query(sql.unsafe`SELECT pg_wal_replay_resume()`);
  }
});

test('a position that cannot be taken after a write does not fail the write; that reader reads the primary', async () => {
  const gone = await createDatabasePool(db.appUrl, { maximumPoolSize: 1 });
  await gone.end();
  const seen: string[] = [];
  const broken = new ReadRouting(gone, replicaApp, { onFallback: (reason) => seen.push(reason) });
  await expect(broken.noteWrite('writer')).resolves.toBeUndefined();
  expect(seen).toEqual(['unnoted']);
  // The writer's read goes to the primary (here: gone, so it fails); others read the replica.
  await expect(broken.read('writer', { tenantId: tenantA.id, actor: 'test' }, committees)).rejects.toThrow();
  expect((await broken.readFrom('someone-else', { tenantId: tenantA.id, actor: 'test' }, committees)).source).toBe('replica');
});

test('the replica\'s pool opens on the first read; one that cannot open sends reads to the primary (the API starts while its replica is down)', async () => {
  let opened = 0;
  let pool: DatabasePool | undefined;
  const lazy = new ReadRouting(db.app, async () => {
    opened += 1;
    pool = await createDatabasePool(replica.at(db.appUrl), { maximumPoolSize: 1 });
    return pool;
  });
  expect(opened).toBe(0);
  const first = await lazy.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, committees);
  await lazy.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, committees);
  expect([first.source, opened]).toEqual(['replica', 1]);
  await pool?.end();
  const seen: string[] = [];
  const down = new ReadRouting(db.app, () => createDatabasePool(replica.at(db.appUrl).replace(`:${replica.port}/`, ':1/')), { onFallback: (reason) => seen.push(reason) });
  const read = await down.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, committees);
  expect(read.source).toBe('primary');
  expect(read.value.map((c) => c.tenantId).every((t) => t === tenantA.id)).toBe(true);
  expect(seen).toEqual(['unreachable']);
});

// Last: it stops the replica.
test('a replica that is down sends reads to the primary', async () => {
  await replicaSuperuser.end();
  await replica.stop();
  fallbacks.length = 0;
  const read = await routing.readFrom('reader', { tenantId: tenantA.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(InRecovery)`SELECT pg_is_in_recovery() AS r`));
  expect(read).toEqual({ value: false, source: 'primary' });
  expect(fallbacks).toEqual(['unreachable']);
});
