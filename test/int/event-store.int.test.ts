import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { appendToStream, readStream, readStreamForCommand, verifyEventChain, VersionConflictError } from '../../src/events/event-store.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, testMasterKey } from '../support/fixtures.ts';

let db: TestDatabase;
let tenant: Tenant;
const as = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(db.app, { tenantId: tenant.id, actor: 'user:tester', ip: '10.1.2.3', userAgent: 'jest' }, work);

const append = (aggregateId: string, expectedVersion: number, type = 'MemberRegistered', idempotencyKey?: string) =>
  as((tx) => appendToStream(tx, { tenantId: tenant.id, aggregateType: 'Member', aggregateId, expectedVersion, events: [{ type, payload: { n: expectedVersion } }], metadata: { actor: 'user:tester', workflowId: 'wf-1' }, idempotencyKey }));

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await makeTenant(db.app, new Keyring(testMasterKey()), 'events-party');
});
afterAll(() => db.close());

test('appends in order and reads the stream back with its metadata', async () => {
  const id = randomUUID();
  await append(id, 0);
  await append(id, 1, 'MemberApproved');
  const events = await as((tx) => readStream(tx, id));
  expect(events.map((e) => [e.version, e.type])).toEqual([[1, 'MemberRegistered'], [2, 'MemberApproved']]);
  expect(events[1]?.metadata).toEqual({ actor: 'user:tester', workflowId: 'wf-1' });
  expect(events[0]!.position < events[1]!.position).toBe(true);
});

test('a stale expected version raises the typed conflict and appends nothing', async () => {
  const id = randomUUID();
  await append(id, 0);
  const stale = append(id, 0, 'MemberApproved');
  await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
  await expect(stale).rejects.toMatchObject({ code: 'EVENT_VERSION_CONFLICT', expectedVersion: 0, actualVersion: 1 });
  expect(await as((tx) => readStream(tx, id))).toHaveLength(1);
});

test('concurrent appends at the same version: one wins, the other gets the typed conflict', async () => {
  const id = randomUUID();
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => append(id, 0)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(VersionConflictError);
});

test('an expected version ahead of the stream is refused too: a stream never has a gap', async () => {
  const id = randomUUID();
  await append(id, 0);
  await expect(append(id, 3, 'MemberApproved')).rejects.toMatchObject({ code: 'EVENT_VERSION_CONFLICT', expectedVersion: 3, actualVersion: 1 });
  expect((await as((tx) => readStream(tx, id))).map((e) => e.version)).toEqual([1]);
});

test('several events in one append take consecutive versions in order, the key on the first', async () => {
  const id = randomUUID();
  const key = `wf:${id}:expire`;
  const tricky = 'a "quoted", {braced} back\\slash, NULL, नेपाल ✓';
  await append(id, 0);
  const result = await as((tx) => appendToStream(tx, {
    tenantId: tenant.id, aggregateType: 'Member', aggregateId: id, expectedVersion: 1,
    events: [{ type: 'InvoiceVoided', payload: { n: 1 } }, { type: 'MemberLapsed', payload: { n: 2, why: tricky } }], metadata: { actor: 'user:tester' }, idempotencyKey: key,
  }));
  expect(result).toEqual({ version: 3, appended: true });
  const events = await as((tx) => readStream(tx, id));
  expect(events.map((e) => [e.version, e.type, e.payload])).toEqual([[1, 'MemberRegistered', { n: 0 }], [2, 'InvoiceVoided', { n: 1 }], [3, 'MemberLapsed', { n: 2, why: tricky }]]);
  expect(events[1]!.position < events[2]!.position).toBe(true);
  const keys = await as((tx) => tx.manyFirst(sql.type(z.object({ k: z.string().nullable() }))`
    SELECT idempotency_key AS k FROM event_store WHERE aggregate_id = ${id} ORDER BY version`));
  expect(keys).toEqual([null, key, null]);
});

test('a command reads the stream and whether its key was used in one query', async () => {
  const id = randomUUID();
  expect(await as((tx) => readStreamForCommand(tx, id, `wf:${id}:register`))).toEqual({ events: [], keyUsed: false });
  await append(id, 0, 'MemberRegistered', `wf:${id}:register`);
  await append(id, 1, 'MemberApproved');
  expect(await as((tx) => readStreamForCommand(tx, id, `wf:${id}:register`))).toEqual({
    events: [{ version: 1, type: 'MemberRegistered', payload: { n: 0 } }, { version: 2, type: 'MemberApproved', payload: { n: 1 } }],
    keyUsed: true,
  });
  expect((await as((tx) => readStreamForCommand(tx, id, `wf:${id}:decision`))).keyUsed).toBe(false);
});

test('an idempotency key makes a repeated append a no-op', async () => {
  const id = randomUUID();
  expect(await append(id, 0, 'MemberRegistered', `wf:${id}:register`)).toEqual({ version: 1, appended: true });
  expect(await append(id, 0, 'MemberRegistered', `wf:${id}:register`)).toEqual({ version: 1, appended: false });
  expect(await as((tx) => readStream(tx, id))).toHaveLength(1);
});

test('the application role can neither update nor delete events', async () => {
  await expect(as((tx) => tx.query(sql.unsafe`UPDATE event_store SET payload = '{}'`))).rejects.toThrow(/permission denied/);
  await expect(as((tx) => tx.query(sql.unsafe`DELETE FROM event_store`))).rejects.toThrow(/permission denied/);
});

test('the trigger refuses updates and deletes even from the owner role', async () => {
  const ownerTx = (statement: ReturnType<typeof sql.unsafe>) =>
    db.owner.transaction(async (tx) => {
      await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenant.id}, true)`);
      return tx.query(statement);
    });
  await expect(ownerTx(sql.unsafe`UPDATE event_store SET payload = '{}'`)).rejects.toThrow(/append-only/);
  await expect(ownerTx(sql.unsafe`DELETE FROM event_store`)).rejects.toThrow(/append-only/);
});

test('the hash chain verifies, and stops verifying once the owner changes a row', async () => {
  const id = randomUUID();
  await append(id, 0);
  await append(id, 1, 'MemberApproved');
  const before = await as((tx) => verifyEventChain(tx, tenant.id));
  expect(before.brokenAt).toBeNull();
  expect(before.checked).toBeGreaterThan(2n);
  const victim = await as((tx) => tx.oneFirst(sql.type(z.object({ p: z.bigint() }))`
    SELECT position AS p FROM event_store WHERE aggregate_id = ${id} AND version = 1`));
  await db.owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenant.id}, true)`);
    await tx.query(sql.unsafe`ALTER TABLE event_store DISABLE TRIGGER event_store_append_only`);
    await tx.query(sql.unsafe`UPDATE event_store SET payload = '{"n": 99}' WHERE position = ${victim}`);
    await tx.query(sql.unsafe`ALTER TABLE event_store ENABLE TRIGGER event_store_append_only`);
  });
  const after = await as((tx) => verifyEventChain(tx, tenant.id));
  expect(after.brokenAt).toBe(victim);
});

test('audit rows carry the actor, the IP address and the user agent', async () => {
  await expect(as((tx) => tx.query(sql.unsafe`UPDATE tenants SET name = name WHERE id = ${tenant.id}`))).rejects.toThrow(/permission denied for table tenants/);
  const keyAudit = await as((tx) => tx.many(sql.type(z.object({ actor: z.string().nullable(), ip: z.string().nullable(), ua: z.string().nullable(), op: z.string() }))`
    SELECT actor, host(ip_address) AS ip, user_agent AS ua, operation AS op FROM audit_log WHERE table_name = 'tenant_keys'`));
  expect(keyAudit.every((row) => row.actor === 'test' && row.op === 'INSERT')).toBe(true);
  await as((tx) => tx.query(sql.unsafe`UPDATE tenant_keys SET retired_at = NULL WHERE purpose = 'data'`));
  const update = await as((tx) => tx.one(sql.type(z.object({ actor: z.string(), ip: z.string(), ua: z.string(), old: z.unknown(), new: z.unknown() }))`
    SELECT actor, host(ip_address) AS ip, user_agent AS ua, old_row AS old, new_row AS new
    FROM audit_log WHERE table_name = 'tenant_keys' AND operation = 'UPDATE'`));
  expect(update).toMatchObject({ actor: 'user:tester', ip: '10.1.2.3', ua: 'jest' });
  expect(update.old).toBeTruthy();
  await expect(as((tx) => tx.query(sql.unsafe`DELETE FROM audit_log`))).rejects.toThrow(/permission denied/);
});

test('a statement inserting many rows leaves one audit row per row, each with its record and the caller', async () => {
  const emails = ['a@audit.example', 'b@audit.example', 'c@audit.example'];
  const inserted = await as((tx) => tx.many(sql.type(z.object({ id: z.string(), email: z.string() }))`
    INSERT INTO users (tenant_id, email, display_name, password_hash)
    SELECT ${tenant.id}, e, 'Audited', '$argon2id$placeholder' FROM unnest(${sql.array(emails, 'text')}::text[]) AS e
    RETURNING id, email`));
  const ids = inserted.map((row) => row.id);
  const audit = await as((tx) => tx.many(sql.type(z.object({ record: z.string(), email: z.string(), actor: z.string(), ip: z.string(), ua: z.string(), old: z.unknown() }))`
    SELECT record_id AS record, new_row ->> 'email' AS email, actor, host(ip_address) AS ip, user_agent AS ua, old_row AS old
    FROM audit_log WHERE table_name = 'users' AND operation = 'INSERT' AND record_id = ANY(${sql.array(ids, 'text')}) ORDER BY new_row ->> 'email'`));
  expect(audit.map((row) => ({ id: row.record, email: row.email }))).toEqual([...inserted].sort((a, b) => a.email.localeCompare(b.email)));
  expect(audit.every((row) => row.actor === 'user:tester' && row.ip === '10.1.2.3' && row.ua === 'jest' && row.old === null)).toBe(true);
});

test('many appends in one transaction, with a rolled-back savepoint among them, keep one unbroken chain', async () => {
  // A party of its own: an earlier test here breaks its party's chain on purpose.
  const party = await makeTenant(db.app, new Keyring(testMasterKey()), 'bulk-party');
  const inParty = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(db.app, { tenantId: party.id, actor: 'bulk' }, work);
  const id = randomUUID();
  await inParty(async (tx) => {
    for (let v = 0; v < 50; v++) {
      await appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: id, expectedVersion: v, events: [{ type: 'MemberRegistered', payload: { v } }], metadata: { actor: 'bulk' } });
    }
    await tx.transaction(async (savepoint) => {
      await appendToStream(savepoint, { tenantId: party.id, aggregateType: 'Member', aggregateId: id, expectedVersion: 50, events: [{ type: 'MemberApproved', payload: {} }], metadata: { actor: 'bulk' } });
      throw new Error('roll back to the savepoint');
    }).catch(() => undefined);
    await appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: id, expectedVersion: 50, events: [{ type: 'MemberApproved', payload: {} }], metadata: { actor: 'bulk' } });
  });
  expect(await inParty((tx) => readStream(tx, id))).toHaveLength(51);
  await inParty((tx) => appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: randomUUID(), expectedVersion: 0, events: [{ type: 'MemberRegistered', payload: {} }], metadata: { actor: 'bulk' } }));
  expect(await inParty((tx) => verifyEventChain(tx, party.id))).toEqual({ brokenAt: null, checked: 52n });
});
