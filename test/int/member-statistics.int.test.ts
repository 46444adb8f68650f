import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { appendToStream } from '../../src/events/event-store.ts';
import type { MemberStatus } from '../../src/members/member-status.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { insertApplicant } from '../../src/members/member-repository.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { projectRoot } from '../../src/paths.ts';
import { MEMBER_STATUSES } from '../../src/members/member-status.ts';
import { readStatistics, recountStatistics, type GeographyStatistics } from '../../src/statistics/member-statistics.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

let db: TestDatabase;
let keyring: Keyring;
let east: MiniGeography;
let west: MiniGeography;
let party: Tenant;
let rival: Tenant;
let serial = 0;
const ZERO = Object.fromEntries(MEMBER_STATUSES.map((s) => [s, 0])) as Record<MemberStatus, number>;

const as = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);

async function insertMember(tx: TenantTransaction, tenant: Tenant, wardId: string): Promise<string> {
  const id = randomUUID();
  const i = serial++;
  const application = ApplicationSchema.parse({ fullNameEn: `Member ${i}`, gender: 'F', phone: `98${String(51_000_000 + i)}`, wardId });
  await insertApplicant(tx, sealApplication(await keyring.forTenant(tx, tenant.id), id, application, 'token'), `wf-${id}`);
  return id;
}
const register = (tenant: Tenant, wardId: string) => as(tenant, (tx) => insertMember(tx, tenant, wardId));
const setStatus = (tx: TenantTransaction, id: string, status: MemberStatus) =>
  tx.query(sql.unsafe`UPDATE members SET status = ${status}::member_status WHERE id = ${id}`);
const move = (tx: TenantTransaction, id: string, wardId: string) => tx.query(sql.unsafe`
  UPDATE members SET ward_id = n.id, geography_path = n.path FROM geography_nodes n WHERE members.id = ${id} AND n.id = ${wardId}`);
/** As the owner role, in the tenant: what only an operator (or a bug) can do, such as deleting a member. */
const asOwner = (tenant: Tenant, work: (tx: TenantTransaction) => Promise<unknown>) => db.owner.transaction(async (tx) => {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenant.id}, true)`);
  await work(tx);
});

const Count = z.object({ id: z.string(), status: z.enum(MEMBER_STATUSES), n: z.number() });
/** The read model and a full recount from members (by ltree path), for every geography node. */
async function modelAndRecount(tenant: Tenant) {
  return as(tenant, async (tx) => {
    const counts = await tx.any(sql.type(Count)`
      SELECT n.id, m.status::text AS status, count(*)::int AS n FROM geography_nodes n JOIN members m ON m.geography_path <@ n.path GROUP BY 1, 2`);
    const nodes = await tx.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM geography_nodes ORDER BY path`);
    const model: Record<string, GeographyStatistics> = {};
    const recount: Record<string, GeographyStatistics> = {};
    for (const node of nodes) {
      model[node] = await readStatistics(tx, node);
      const mine = counts.filter((c) => c.id === node);
      recount[node] = { byStatus: { ...ZERO, ...Object.fromEntries(mine.map((c) => [c.status, c.n])) }, total: mine.reduce((sum, c) => sum + c.n, 0) };
    }
    return { model, recount };
  });
}
async function expectModelEqualsRecount(tenant: Tenant): Promise<Record<string, GeographyStatistics>> {
  const { model, recount } = await modelAndRecount(tenant);
  expect(model).toEqual(recount);
  return model;
}

beforeAll(async () => {
  db = await createTestDatabase();
  keyring = new Keyring(testMasterKey());
  [east, west] = [await seedMiniGeography(db.owner, 'E1'), await seedMiniGeography(db.owner, 'W1')];
  party = await makeTenant(db.app, keyring, 'stats-party', 'SP');
  rival = await makeTenant(db.app, keyring, 'stats-rival', 'SR');
});
afterAll(() => db.close());

test('inserts, status changes, ward moves and deletes keep every ward, local level, district and province equal to a recount', async () => {
  const [e1, e2, e3] = east.wardIds as [string, string, string];
  const ids = [await register(party, e1), await register(party, e1), await register(party, e2), await register(party, e3), await register(party, west.wardIds[0]!)];
  expect((await expectModelEqualsRecount(party))[east.provinceId]).toEqual({ byStatus: { ...ZERO, awaiting_approval: 4 }, total: 4 });
  await as(party, async (tx) => {
    await setStatus(tx, ids[0]!, 'awaiting_payment');
    await setStatus(tx, ids[1]!, 'rejected');
    await setStatus(tx, ids[2]!, 'active');
    await tx.query(sql.unsafe`UPDATE members SET status = status, full_name_en = 'Renamed' WHERE id = ${ids[3]!}`);
  });
  await as(party, (tx) => setStatus(tx, ids[2]!, 'lapsed'));
  await expectModelEqualsRecount(party);
  await as(party, (tx) => move(tx, ids[0]!, e2));
  await as(party, async (tx) => {
    await move(tx, ids[1]!, west.wardIds[2]!);
    await setStatus(tx, ids[1]!, 'withdrawn');
  });
  await expectModelEqualsRecount(party);
  await as(party, async (tx) => {
    const id = await insertMember(tx, party, e3);
    await setStatus(tx, id, 'awaiting_payment');
    await move(tx, id, e1);
    await setStatus(tx, id, 'active');
  });
  await asOwner(party, (tx) => tx.query(sql.unsafe`DELETE FROM members WHERE id = ${ids[2]!}`));
  const model = await expectModelEqualsRecount(party);
  expect(model[east.provinceId]).toEqual({ byStatus: { ...ZERO, awaiting_payment: 1, awaiting_approval: 1, active: 1 }, total: 3 });
  expect(model[west.localLevelId]).toEqual({ byStatus: { ...ZERO, awaiting_approval: 1, withdrawn: 1 }, total: 2 });
  expect(model[e2]).toEqual({ byStatus: { ...ZERO, awaiting_payment: 1 }, total: 1 });
});

test('300 concurrent status changes and moves in one province leave every node equal to a recount', async () => {
  const wards = east.wardIds;
  const ids = await Promise.all(Array.from({ length: 150 }, (_, i) => register(party, wards[i % 3]!)));
  const changes = ids.flatMap((id, i) => [
    as(party, (tx) => setStatus(tx, id, MEMBER_STATUSES[i % 7]!)),
    as(party, (tx) => (i % 3 === 0 ? move(tx, id, wards[(i + 1) % 3]!) : setStatus(tx, id, MEMBER_STATUSES[(i * 5 + 1) % 7]!))),
  ]);
  await Promise.all(changes);
  const model = await expectModelEqualsRecount(party);
  expect(model[east.provinceId]!.total).toBe(153);
});

test('a registration and a decision in one ward that cross on the event chain head do not deadlock', async () => {
  const ward = west.wardIds[1]!;
  const waiting = await register(party, ward);
  const append = (tx: TenantTransaction, id: string, type: string) =>
    appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: id, expectedVersion: 0, events: [{ type, payload: {} }], metadata: { actor: 'test' } });
  const [headTaken, inserted] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const attempts = { decision: 0, registration: 0 }; // slonik retries a deadlock's victim: count, do not just await
  const decision = as(party, async (tx) => {
    attempts.decision += 1;
    await append(tx, waiting, 'MemberApproved'); // holds the tenant's chain head until commit
    headTaken.resolve();
    await inserted.promise;
    await setStatus(tx, waiting, 'awaiting_payment');
  });
  const registration = as(party, async (tx) => {
    attempts.registration += 1;
    await headTaken.promise;
    const id = await insertMember(tx, party, ward);
    inserted.resolve();
    await append(tx, id, 'MemberRegistered'); // waits for the decision's chain head
  });
  await Promise.all([decision, registration]);
  expect(attempts).toEqual({ decision: 1, registration: 1 });
  expect((await expectModelEqualsRecount(party))[ward]).toEqual({ byStatus: { ...ZERO, awaiting_approval: 1, awaiting_payment: 1 }, total: 2 });
});

test("another tenant's members never appear, and the application role cannot write the read model", async () => {
  await Promise.all([register(rival, east.wardIds[0]!), register(rival, east.wardIds[0]!)]);
  expect((await expectModelEqualsRecount(rival))[east.provinceId]).toEqual({ byStatus: { ...ZERO, awaiting_approval: 2 }, total: 2 });
  expect((await expectModelEqualsRecount(party))[east.provinceId]!.total).toBe(153);
  expect(await db.app.transaction((tx) => readStatistics(tx, east.provinceId))).toEqual({ byStatus: ZERO, total: 0 });
  for (const write of [
    sql.unsafe`INSERT INTO member_statistics (tenant_id, geography_id, status, member_count) VALUES (${party.id}, ${east.wardIds[0]!}, 'active', 1)`,
    sql.unsafe`UPDATE member_statistics SET member_count = member_count + 1`,
    sql.unsafe`DELETE FROM member_statistics`,
  ]) {
    await expect(as(party, (tx) => tx.query(write))).rejects.toThrow(/permission denied/);
  }
  await expect(as(party, (tx) => recountStatistics(tx, rival.id))).rejects.toThrow(/not the tenant of this transaction/);
});

test('a recount repairs a corrupted model without waiting for in-flight changes, and touches no other tenant', async () => {
  const corrupt = (tenant: Tenant) => asOwner(tenant, async (tx) => {
    await tx.query(sql.unsafe`UPDATE member_statistics SET member_count = member_count + 5 WHERE geography_id = ${east.wardIds[1]!}`);
    await tx.query(sql.unsafe`DELETE FROM member_statistics WHERE geography_id = ${east.wardIds[0]!}`);
    await tx.query(sql.unsafe`INSERT INTO member_statistics (tenant_id, geography_id, status, member_count) VALUES (${tenant.id}, ${east.districtId}, 'lapsed', 40)`);
  });
  await Promise.all([corrupt(party), corrupt(rival)]);
  const broken = await modelAndRecount(party);
  expect(broken.model).not.toEqual(broken.recount);
  // A writer that has changed every member but not committed while the recount runs.
  const members = await as(party, (tx) => tx.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM members ORDER BY id`));
  const [changed, released] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const writer = as(party, async (tx) => {
    for (const [i, id] of members.entries()) await setStatus(tx, id, MEMBER_STATUSES[(i + 3) % 7]!);
    changed.resolve();
    await released.promise;
  });
  await Promise.race([changed.promise, writer]);
  expect((await as(party, (tx) => recountStatistics(tx, party.id))).correctedRows).toBeGreaterThan(0);
  released.resolve();
  await writer;
  await expectModelEqualsRecount(party);
  expect(await as(party, (tx) => recountStatistics(tx, party.id))).toEqual({ correctedRows: 0 });

  const rivalBroken = await modelAndRecount(rival);
  expect(rivalBroken.model).not.toEqual(rivalBroken.recount);
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATA_DIR: process.env.TEST_TMP_DIR!, DATABASE_URL: db.appUrl };
  const cli = await promisify(execFile)(process.execPath, [path.join(projectRoot, 'src/cli/main.ts'), 'stats:recount', '--tenant', rival.slug], { env });
  expect(cli.stdout).toMatch(/^Recounted the member statistics of stats-rival: [1-9]\d* row\(s\) corrected\n$/);
  await expectModelEqualsRecount(rival);
});
