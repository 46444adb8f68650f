import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { withCaller } from '../../src/auth/caller-access.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

/**
 * withTenant on a pool of one connection: which backend served each transaction shows whether
 * a failed transaction gave its connection back or cost a new one.
 */
let db: TestDatabase;
let single: DatabasePool;
let tenant: Tenant;
let geo: MiniGeography;

const Pid = z.object({ pid: z.number() });
const Count = z.object({ n: z.number() });

beforeAll(async () => {
  db = await createTestDatabase();
  geo = await seedMiniGeography(db.owner);
  tenant = await makeTenant(db.app, new Keyring(testMasterKey()), 'txn');
  single = await createDatabasePool(db.appUrl, { maximumPoolSize: 1 });
});
afterAll(async () => {
  await single.end();
  await db.close();
});

const context = () => ({ tenantId: tenant.id, actor: 'test' });
const backendPid = () => withTenant(single, context(), (tx) => tx.oneFirst(sql.type(Pid)`SELECT pg_backend_pid() AS pid`));
const committeesNamed = (name: string) =>
  withTenant(db.app, context(), (tx) => tx.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM committees WHERE name = ${name}`));
const addCommittee = (tx: TenantTransaction, name: string) =>
  tx.query(sql.unsafe`INSERT INTO committees (tenant_id, geography_id, name) VALUES (${tenant.id}, ${geo.localLevelId}, ${name})`);

test("a refusal thrown inside the transaction rolls its writes back, reaches the caller as it was thrown, and keeps the connection", async () => {
  const before = await backendPid();
  const refusal = new Error('not your area');
  await expect(withTenant(single, context(), async (tx) => {
    await addCommittee(tx, 'Refused');
    throw refusal;
  })).rejects.toBe(refusal);
  expect(await committeesNamed('Refused')).toBe(0);
  expect(await backendPid()).toBe(before);
});

test('a failed statement rolls the transaction back and keeps the connection', async () => {
  const before = await backendPid();
  await expect(withTenant(single, context(), async (tx) => {
    await addCommittee(tx, 'Before the failure');
    await tx.query(sql.unsafe`SELECT 1 / 0`);
  })).rejects.toThrow(/division by zero/);
  expect(await committeesNamed('Before the failure')).toBe(0);
  expect(await backendPid()).toBe(before);
});

/** The pool's one connection as the next caller gets it, outside any transaction. */
const idleConnection = () => single.connect(async (connection) => ({
  pid: await connection.oneFirst(sql.type(Pid)`SELECT pg_backend_pid() AS pid`),
  tenant: await connection.oneFirst(sql.type(z.object({ t: z.string().nullable() }))`SELECT nullif(current_setting('app.tenant_id', true), '') AS t`),
  committees: await connection.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM committees`),
}));

test('the connection a failed transaction gave back carries no tenant: row-level security sees nothing', async () => {
  let failedOn: number | undefined;
  await expect(withTenant(single, context(), async (tx) => {
    await addCommittee(tx, 'Visible inside');
    failedOn = await tx.oneFirst(sql.type(Pid)`SELECT pg_backend_pid() AS pid`);
    throw new Error('refused');
  })).rejects.toThrow('refused');
  const seen = await idleConnection();
  expect(failedOn).toEqual(expect.any(Number));
  expect(seen).toEqual({ pid: failedOn, tenant: null, committees: 0 });
});

test('nor does the connection a committed transaction gave back', async () => {
  const committedOn = await withTenant(single, context(), async (tx) => {
    await addCommittee(tx, 'Committed');
    return tx.oneFirst(sql.type(Pid)`SELECT pg_backend_pid() AS pid`);
  });
  const seen = await idleConnection();
  expect(seen).toEqual({ pid: committedOn, tenant: null, committees: 0 });
});

test('a connection that died inside the transaction is not reused: the next transaction gets a new one', async () => {
  const before = await backendPid();
  await expect(withTenant(single, context(), (tx) => tx.query(sql.unsafe`SELECT pg_terminate_backend(pg_backend_pid())`))).rejects.toThrow();
  const after = await backendPid();
  expect(after).not.toBe(before);
});

describe('caller_access: the API reads who is calling in one statement, under row-level security', () => {
  const Caller = z.object({ roles: z.array(z.string()), headships: z.array(z.object({ committeeId: z.string(), geographyPath: z.string() })) });
  const access = (pool: DatabasePool, tenantId: string, userId: string) =>
    pool.maybeOne(sql.type(Caller)`SELECT roles, headships FROM caller_access(${tenantId}, ${userId})`);
  let userId: string;
  let other: Tenant;

  beforeAll(async () => {
    other = await makeTenant(db.app, new Keyring(testMasterKey()), 'txn-other');
    userId = await withTenant(db.app, context(), async (tx) => {
      const committeeId = await tx.oneFirst(sql.type(z.object({ id: z.string() }))`
        INSERT INTO committees (tenant_id, geography_id, name) VALUES (${tenant.id}, ${geo.wardIds[0]!}, 'Headed') RETURNING id`);
      const user = (await createUser(tx, tenant.id, { email: 'head@txn.np', displayName: 'Head', password: 'correct horse battery', roles: ['treasurer', 'registrar'] })).id;
      await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenant.id}, ${committeeId}, ${user}, 'head')`);
      return user;
    });
  });

  test("gives the user's current roles and headships, and leaves no tenant bound on the connection", async () => {
    const caller = await access(single, tenant.id, userId);
    expect({ ...caller, roles: caller?.roles.toSorted() }).toEqual({
      roles: ['registrar', 'treasurer'],
      headships: [{ committeeId: expect.any(String), geographyPath: expect.stringMatching(/^pt1\.dt1\.lt1\.\w+$/) }],
    });
    const left = await single.oneFirst(sql.type(z.object({ t: z.string().nullable() }))`SELECT nullif(current_setting('app.tenant_id', true), '') AS t`);
    expect(left).toBeNull();
  });

  test("finds no one when asked for the user under another tenant", async () => {
    expect(await access(single, other.id, userId)).toBeNull();
  });

  test('finds no one once the user is disabled', async () => {
    await withTenant(db.app, context(), (tx) => tx.query(sql.unsafe`UPDATE users SET is_active = false WHERE id = ${userId}`));
    expect(await access(single, tenant.id, userId)).toBeNull();
    await withTenant(db.app, context(), (tx) => tx.query(sql.unsafe`UPDATE users SET is_active = true WHERE id = ${userId}`));
  });

  test("refuses to rebind a transaction that belongs to another tenant", async () => {
    await expect(withTenant(single, { tenantId: other.id, actor: 'test' }, (tx) =>
      tx.maybeOne(sql.type(Caller)`SELECT roles, headships FROM caller_access(${tenant.id}, ${userId})`))).rejects.toThrow(/another tenant/);
  });
});

describe('a connection going back to the pool (src/db/pool.ts RESET_CONNECTION)', () => {
  const Binding = z.object({ pid: z.number(), tenant: z.string().nullable(), actor: z.string().nullable() });
  /** Outside any transaction, on the pool's one connection: which backend, and what it carries. */
  let elsewhere: Tenant;
  beforeAll(async () => {
    elsewhere = await makeTenant(db.app, new Keyring(testMasterKey()), 'txn-reset');
  });
  const bare = () => single.one(sql.type(Binding)`
    SELECT pg_backend_pid() AS pid, nullif(current_setting('app.tenant_id', true), '') AS tenant, nullif(current_setting('app.actor', true), '') AS actor`);

  test('carries no tenant binding into the next transaction: after a commit, a refusal, a failed statement, or the caller read', async () => {
    const { pid } = await bare();
    await withTenant(single, context(), (tx) => tx.query(sql.unsafe`SELECT 1`));
    expect(await bare()).toEqual({ pid, tenant: null, actor: null });
    await expect(withTenant(single, context(), () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(await bare()).toEqual({ pid, tenant: null, actor: null });
    await expect(withTenant(single, context(), (tx) => tx.query(sql.unsafe`SELECT 1 / 0`))).rejects.toThrow(/division by zero/);
    expect(await bare()).toEqual({ pid, tenant: null, actor: null });
    const { userId } = await withTenant(db.app, context(), async (tx) => ({ userId: (await createUser(tx, tenant.id, { email: `reset-${Date.now()}@txn.np`, displayName: 'Reset', password: 'correct horse battery', roles: ['registrar'] })).id }));
    expect(await withCaller(single, { ...context(), userId }, async (tx, caller) => ({
      roles: caller?.roles, bound: await tx.oneFirst(sql.type(z.object({ t: z.string() }))`SELECT current_setting('app.tenant_id') AS t`),
    }))).toEqual({ roles: ['registrar'], bound: tenant.id });
    expect(await bare()).toEqual({ pid, tenant: null, actor: null });
    // A transaction whose next reader is another tenant sees that tenant's rows only.
    expect(await withTenant(single, { tenantId: elsewhere.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM users WHERE id = ${userId}`))).toBe(0);
  });

  test('closes a connection that comes back bound to a tenant for the session, or inside a transaction, rather than hand it out again', async () => {
    const { pid } = await bare();
    await single.connect((connection) => connection.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenant.id}, false)`));
    const after = await bare();
    expect(after).toEqual({ pid: expect.any(Number), tenant: null, actor: null });
    expect(after.pid).not.toBe(pid);
    await single.connect((connection) => connection.query(sql.unsafe`START TRANSACTION`));
    const next = await bare();
    expect(next).toEqual({ pid: expect.any(Number), tenant: null, actor: null });
    expect(next.pid).not.toBe(after.pid);
  });

  test('keeps the session settings the pool gave the connection (the statement timeout) and drops any set later', async () => {
    const Timeout = z.object({ t: z.string() });
    const initial = await single.oneFirst(sql.type(Timeout)`SELECT current_setting('statement_timeout') AS t`);
    await single.connect((connection) => connection.query(sql.unsafe`SET work_mem = '7MB'`));
    expect(await single.oneFirst(sql.type(Timeout)`SELECT current_setting('work_mem') AS t`)).not.toBe('7MB');
    expect(await single.oneFirst(sql.type(Timeout)`SELECT current_setting('statement_timeout') AS t`)).toBe(initial);
  });
});

describe("the party's keys read with the caller (withCaller with a keyring)", () => {
  test('are the keys forTenant reads, from the same cache, before and after a rotation retires a key', async () => {
    const keyring = new Keyring(testMasterKey());
    const party = await makeTenant(db.app, keyring, 'txn-keys');
    const { userId } = await withTenant(db.app, { tenantId: party.id, actor: 'test' }, async (tx) => ({ userId: (await createUser(tx, party.id, { email: 'keys@txn.np', displayName: 'Keys', password: 'correct horse battery', roles: ['registrar'] })).id }));
    const both = () => withCaller(single, { tenantId: party.id, actor: 'test', userId, keyring }, async (tx, _caller, keys) => ({ keys, read: await keyring.forTenant(tx, party.id) }));
    const first = await both();
    expect(first.keys).toBeDefined();
    expect(first.keys).toBe(first.read);
    await withTenant(db.app, { tenantId: party.id, actor: 'test' }, (tx) => keyring.rotate(tx, party.id, 'blind_index'));
    const rotated = await both();
    expect(rotated.keys).toBe(rotated.read);
    expect(rotated.keys).not.toBe(first.keys);
    // Without a keyring the statement reads no keys.
    expect(await withCaller(single, { tenantId: party.id, actor: 'test', userId }, (_tx, caller, keys) => Promise.resolve({ roles: caller?.roles, keys }))).toEqual({ roles: ['registrar'], keys: undefined });
  });
});
