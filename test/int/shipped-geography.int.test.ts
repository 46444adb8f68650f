import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { CommitteeError } from '../../src/committees/committee-error.ts';
import { createCommittee } from '../../src/committees/committees.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { ensureDemoParty, describeDemo, demoLoginsFile } from '../../src/dev/demo-party.ts';
import { ensureShippedGeography, SHIPPED_GEOGRAPHY_DIR } from '../../src/geography/shipped.ts';
import { loadActiveWards } from '../../src/imports/wards.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { insertApplicant, UnknownWardError } from '../../src/members/member-repository.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { projectRoot } from '../../src/paths.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { currentRoles, verifyUserPassword } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey } from '../support/fixtures.ts';

let db: TestDatabase;
let tenant: Tenant;
let dataDir: string;
const keyring = new Keyring(testMasterKey());

const Count = z.object({ count: z.number() });
const Node = z.object({ id: z.string(), code: z.string() });
const inTenant = <T>(work: (tx: TenantTransaction) => Promise<T>, party = tenant) => withTenant(db.app, { tenantId: party.id, actor: 'test' }, work);
const ward = (code: string) => db.app.one(sql.type(Node)`SELECT id, code FROM geography_nodes WHERE code = ${code}`);
/** Today and its neighbours in Nepal (the test party's time zone), as YYYY-MM-DD. */
const nepalDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toLocaleDateString('en-CA', { timeZone: 'Asia/Kathmandu' });
const setValidity = (code: string, validFrom: string, validTo: string | null, isActive = true) =>
  db.owner.query(sql.unsafe`UPDATE geography_nodes SET valid_from = ${validFrom}, valid_to = ${validTo}, is_active = ${isActive} WHERE code = ${code}`);

let phone = 0;
async function apply(wardId: string, memberId = randomUUID()) {
  const application = ApplicationSchema.parse({ fullNameEn: 'Sita Rai', gender: 'F', phone: `98${String(47_000_000 + ++phone)}`, email: `sita${phone}@example.np`, wardId });
  return inTenant(async (tx) => insertApplicant(tx, sealApplication(await keyring.forTenant(tx, tenant.id), memberId, application, 'token'), `wf-${memberId}`));
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'shipped-geography-'));
});
afterAll(async () => {
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('the repository ships the dataset with its licence and source', async () => {
  const license = await readFile(path.join(SHIPPED_GEOGRAPHY_DIR, 'LICENSE'), 'utf8');
  expect(license).toMatch(/^MIT License/);
  expect(await readFile(path.join(SHIPPED_GEOGRAPHY_DIR, 'README.md'), 'utf8')).toMatch(/local-states-nepal/);
  for (const name of ['provinces', 'districts', 'municipalities', 'categories']) {
    for (const language of ['en', 'np']) expect((await stat(path.join(SHIPPED_GEOGRAPHY_DIR, `${name}.${language}.json`))).size).toBeGreaterThan(0);
  }
});

test('on an empty database the shipped geography is imported; afterwards it is left alone', async () => {
  const first = await ensureShippedGeography(db.ownerUrl);
  expect(first).toMatchObject({ imported: true, nodes: 7580 });
  const counts = await db.app.any(sql.type(z.object({ type: z.string(), count: z.number() }))`
    SELECT type::text, count(*)::int4 AS count FROM geography_nodes GROUP BY type ORDER BY type`);
  expect(Object.fromEntries(counts.map((row) => [row.type, row.count]))).toEqual({ province: 7, district: 77, local_level: 753, ward: 6743 });
  const kathmandu = await db.app.one(sql.type(z.object({ nameNe: z.string(), category: z.string() }))`
    SELECT name_ne AS "nameNe", category::text FROM geography_nodes WHERE name_en = 'Kathmandu' AND type = 'local_level'`);
  expect(kathmandu).toEqual({ nameNe: 'काठमाण्डौं', category: 'metropolitan' });

  // An operator's change (a retired ward) survives the next start.
  await setValidity('L1_W1', '2017-03-10', '2020-01-01', false);
  const second = await ensureShippedGeography(db.ownerUrl);
  expect(second).toEqual({ imported: false, storedNodes: 7580 });
  expect((await db.app.one(sql.type(z.object({ active: z.boolean() }))`SELECT is_active AS active FROM geography_nodes WHERE code = 'L1_W1'`)).active).toBe(false);
  await setValidity('L1_W1', '2017-03-10', null, true);
}, 120_000);

test('a database holding another geography keeps it: the shipped copy is not mixed in', async () => {
  const other = await createTestDatabase();
  try {
    await seedMiniGeography(other.owner, 'ZZ');
    const stored = async () => (await other.app.one(sql.type(Count)`SELECT count(*)::int4 AS count FROM geography_nodes`)).count;
    const before = await stored();
    expect(await ensureShippedGeography(other.ownerUrl)).toEqual({ imported: false, storedNodes: before });
    expect(await stored()).toBe(before);
  } finally {
    await other.close();
  }
});

test('npm run migrate (production) imports the shipped geography into a database without one, and leaves it alone after', async () => {
  const fresh = await createTestDatabase();
  const migrateCli = () => spawnSync(process.execPath, [path.join(projectRoot, 'src/db/migrate-cli.ts')], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', DATABASE_OWNER_URL: fresh.ownerUrl }, encoding: 'utf8', cwd: projectRoot,
  });
  try {
    const first = migrateCli();
    expect([first.status, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toMatch(/^0 applied, \d+ already applied\ngeography: imported Nepal's 7580 divisions shipped in data\/geography\/nepal/);
    const again = migrateCli();
    expect(again.stdout).toContain('geography: 7580 nodes already stored, shipped copy not imported');
  } finally {
    await fresh.close();
  }
}, 120_000);

describe('a ward is chosen only on a day within its validity dates', () => {
  beforeAll(async () => {
    tenant = await makeTenant(db.app, keyring, 'validity');
  });

  test('registration refuses a ward whose valid_to has passed, one not yet valid, and a retired one; valid_to itself is still valid', async () => {
    await setValidity('L2_W1', '2017-03-10', nepalDay(-1));
    await setValidity('L2_W2', nepalDay(1), null);
    await setValidity('L2_W3', '2017-03-10', null, false);
    await setValidity('L2_W4', '2017-03-10', nepalDay(0));
    for (const code of ['L2_W1', 'L2_W2', 'L2_W3']) {
      const refused = apply((await ward(code)).id);
      await expect(refused).rejects.toBeInstanceOf(UnknownWardError);
      await expect(refused).rejects.toMatchObject({ code: 'UNKNOWN_WARD', field: 'wardId' });
    }
    expect(await apply((await ward('L2_W4')).id)).toMatchObject({ outcome: 'recorded', inserted: true });
    expect((await inTenant((tx) => tx.one(sql.type(Count)`SELECT count(*)::int4 AS count FROM members`))).count).toBe(1);
  });

  test('a retry of an application recorded before its ward was retired stays recorded', async () => {
    const memberId = randomUUID();
    const { id } = await ward('L3_W1');
    expect(await apply(id, memberId)).toMatchObject({ outcome: 'recorded', inserted: true });
    await setValidity('L3_W1', '2017-03-10', nepalDay(-1));
    expect(await apply(id, memberId)).toMatchObject({ outcome: 'recorded', inserted: false });
  });

  test('a committee is made only on an area valid today', async () => {
    const expired = await ward('L2_W1');
    const refused = inTenant((tx) => createCommittee(tx, tenant.id, { name: 'Gone', geographyId: expired.id }));
    await expect(refused).rejects.toBeInstanceOf(CommitteeError);
    await expect(refused).rejects.toMatchObject({ code: 'GEOGRAPHY_NOT_FOUND', field: 'geographyId' });
    await expect(inTenant((tx) => createCommittee(tx, tenant.id, { name: 'Later', geographyCode: 'L2_W2' }))).rejects.toMatchObject({ code: 'GEOGRAPHY_NOT_FOUND' });
    expect(await inTenant((tx) => createCommittee(tx, tenant.id, { name: 'Today', geographyCode: 'L2_W4' }))).toMatchObject({ geographyCode: 'L2_W4' });
  });

  test('a member import offers only the wards valid today', async () => {
    const codes = new Set((await inTenant((tx) => loadActiveWards(tx))).map((w) => w.code));
    expect(codes.size).toBe(6743 - 4);
    for (const code of ['L2_W1', 'L2_W2', 'L2_W3', 'L3_W1']) expect(codes.has(code)).toBe(false);
    expect(codes.has('L2_W4')).toBe(true);
  });
});

describe('the demo party', () => {
  test('is made on a database without parties: admin, treasurer and two heads on real Kathmandu wards, logins that work', async () => {
    const fresh = await createTestDatabase();
    try {
      await ensureShippedGeography(fresh.ownerUrl);
      const outcome = await ensureDemoParty(fresh.app, keyring, dataDir, false);
      if (outcome.state !== 'created') throw new Error(`expected a new demo, got ${outcome.state}`);
      const { demo } = outcome;
      expect(demo.logins.map((login) => login.email)).toEqual([
        'admin@demo.sadasya.local', 'treasurer@demo.sadasya.local', 'head.local@demo.sadasya.local', 'head.ward@demo.sadasya.local',
      ]);
      expect(demo.wards.map((w) => w.nameEn)).toEqual(['Kathmandu Ward 1', 'Kathmandu Ward 2']);
      expect((await stat(demoLoginsFile(dataDir))).mode & 0o777).toBe(0o600);

      const asDemo = <T>(work: (tx: TenantTransaction) => Promise<T>) => withTenant(fresh.app, { tenantId: demo.tenantId, actor: 'test' }, work);
      const roles: Record<string, string[]> = {};
      for (const login of demo.logins) {
        const userId = await asDemo((tx) => verifyUserPassword(tx, login.email, login.password));
        expect(userId).not.toBeNull();
        roles[login.email] = await asDemo((tx) => currentRoles(tx, userId!));
      }
      expect(roles).toMatchObject({ 'admin@demo.sadasya.local': ['tenant_admin'], 'treasurer@demo.sadasya.local': ['treasurer'] });
      const heads = await asDemo((tx) => tx.any(sql.type(z.object({ email: z.string(), area: z.string(), covers: z.boolean() }))`
        SELECT u.email, g.name_en AS area, covering_committee(${demo.wards[0]!.id}) = c.id OR g.type = 'local_level' AS covers
        FROM committee_roles r JOIN users u ON u.id = r.user_id JOIN committees c ON c.id = r.committee_id
        JOIN geography_nodes g ON g.id = c.geography_id WHERE r.role = 'head' AND r.valid_to IS NULL ORDER BY u.email`));
      expect(heads).toEqual([
        { email: 'head.local@demo.sadasya.local', area: 'Kathmandu', covers: true },
        { email: 'head.ward@demo.sadasya.local', area: 'Kathmandu Ward 1', covers: true },
      ]);
      const text = describeDemo(outcome, { api: 'http://127.0.0.1:3000', mail: null }).join('\n');
      for (const login of demo.logins) expect(text).toContain(`${login.email}  password ${login.password}`);
      expect(text).toContain(`/api/parties/demo/applications  with wardId ${demo.wards[0]!.id} (Kathmandu Ward 1 · काठमाण्डौं वडा १)`);
      // The pages a newcomer opens in a browser.
      for (const page of ['/parties/demo/apply', '/parties/demo/inbox', '/verify']) expect(text).toContain(`http://127.0.0.1:3000${page}`);

      // The next start reports the same demo; it never makes a second one.
      expect(await ensureDemoParty(fresh.app, keyring, dataDir, false)).toEqual({ state: 'existing', demo });
      expect(await ensureDemoParty(fresh.app, keyring, dataDir, true)).toEqual({ state: 'existing', demo });
      // Its logins file gone: said so, passwords never reset behind the developer's back.
      await rm(demoLoginsFile(dataDir));
      const orphaned = await ensureDemoParty(fresh.app, keyring, dataDir, true);
      expect(orphaned).toEqual({ state: 'orphaned', file: demoLoginsFile(dataDir) });
      expect(describeDemo(orphaned, { api: '', mail: null })[0]).toContain('npm run reset');
    } finally {
      await fresh.close();
    }
  }, 60_000);

  test('is not made where parties already exist, unless asked (npm run demo)', async () => {
    const otherDir = await mkdtemp(path.join(os.tmpdir(), 'shipped-geography-demo-'));
    try {
      expect(await ensureDemoParty(db.app, keyring, otherDir, false)).toEqual({ state: 'skipped', parties: 1 });
      expect((await ensureDemoParty(db.app, keyring, otherDir, true)).state).toBe('created');
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  }, 60_000);
});
