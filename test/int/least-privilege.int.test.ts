import { randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { bootstrapDatabase } from '../../src/db/bootstrap.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import { findTenantBySlug, type Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant } from '../support/fixtures.ts';
import { runOperatorCli } from '../support/cli-process.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
let db: TestDatabase;
let dataDir: string;
let party: Tenant;
let other: Tenant;

const AuditRow = z.object({
  table: z.string(), record: z.string().nullable(), op: z.string(), actor: z.string().nullable(),
  old: z.record(z.string(), z.unknown()).nullable(), new: z.record(z.string(), z.unknown()).nullable(),
});
/** The audit rows of one table as the party itself sees them (row-level security, application role). */
const auditOf = (tenant: Tenant, table: string) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, (tx) => tx.any(sql.type(AuditRow)`
  SELECT table_name AS table, record_id AS record, operation AS op, actor, old_row AS old, new_row AS new
  FROM audit_log WHERE table_name = ${table} ORDER BY id`));

const cli = (args: string[]) => runOperatorCli(args, { DATA_DIR: dataDir, DATABASE_URL: db.appUrl, DATABASE_OWNER_URL: db.ownerUrl, MASTER_KEY });

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'least-privilege-'));
  const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
  party = await makeTenant(db.app, keyring, 'settings-party', 'SP');
  other = await makeTenant(db.app, keyring, 'other-party', 'OP');
});
afterAll(async () => {
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('the application role may create a party but not change one', async () => {
  await expect(db.app.query(sql.unsafe`UPDATE tenants SET payment_window = interval '1 day' WHERE id = ${party.id}`)).rejects.toThrow(/permission denied for table tenants/);
  await expect(withTenant(db.app, { tenantId: party.id, actor: 'user:admin' }, (tx) =>
    tx.query(sql.unsafe`UPDATE tenants SET fee_schedule = '{"currency":"NPR","admissionFeeMinor":0}' WHERE id = ${party.id}`))).rejects.toThrow(/permission denied/);
  await expect(db.app.query(sql.unsafe`DELETE FROM tenants WHERE id = ${party.id}`)).rejects.toThrow(/permission denied/);
  expect((await findTenantBySlug(db.app, party.slug))?.paymentWindowMs).toBe(14 * 86_400_000);
});

test('creating a party is audited in its own trail, naming who created it; another party does not see it', async () => {
  const created = await auditOf(party, 'tenants');
  expect(created).toEqual([expect.objectContaining({ record: party.id, op: 'INSERT', actor: 'test', old: null })]);
  expect(created[0]!.new).toMatchObject({ id: party.id, slug: 'settings-party', member_number_prefix: 'SP' });
  expect((await auditOf(other, 'tenants')).map((row) => row.record)).toEqual([other.id]);
});

test('tenant:settings changes a party as the owner, audited with the operator as actor', async () => {
  const run = await cli(['tenant:settings', '--tenant', party.slug, '--payment-window', '21d', '--fee', '60000', '--card-validity', '1095d', '--time-zone', 'Asia/Kolkata',
    '--transfer-window', '45d']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/payment window\s+21d\s+\(was 14d\)/);
  expect(run.stdout).toMatch(/transfer window\s+45d\s+\(was 30d\)/);
  const after = (await findTenantBySlug(db.app, party.slug))!;
  expect(after).toMatchObject({ paymentWindowMs: 21 * 86_400_000, cardValidityMs: 1095 * 86_400_000, timeZone: 'Asia/Kolkata', feeSchedule: { currency: 'NPR', admissionFeeMinor: 60_000 } });
  expect(after.approvalReminderAfterMs).toBe(party.approvalReminderAfterMs);
  const updates = (await auditOf(party, 'tenants')).filter((row) => row.op === 'UPDATE');
  expect(updates).toHaveLength(1);
  expect(updates[0]!.actor).toMatch(/^cli:/);
  expect(updates[0]!.old).toMatchObject({ payment_window: expect.stringMatching(/^(336:00:00|14 days)$/), fee_schedule: { admissionFeeMinor: 10_000 } });
  expect(updates[0]!.new).toMatchObject({ payment_window: expect.stringMatching(/^(504:00:00|21 days)$/), fee_schedule: { admissionFeeMinor: 60_000 }, time_zone: 'Asia/Kolkata',
    transfer_window: expect.stringMatching(/^(1080:00:00|45 days)$/) });
  // The other party's trail holds nothing of it.
  expect((await auditOf(other, 'tenants')).filter((row) => row.op === 'UPDATE')).toEqual([]);
}, 60_000);

test('tenant:settings refuses bad input naming the flag, and changes nothing', async () => {
  const before = await findTenantBySlug(db.app, party.slug);
  const auditBefore = (await auditOf(party, 'tenants')).length;
  const cases: [string[], number, RegExp][] = [
    [['--payment-window', '2w'], 2, /^--payment-window: a duration like 90s/],
    [['--payment-window', '400d'], 2, /^--payment-window: /],
    [['--transfer-window', '400d'], 2, /^--transfer-window: /],
    [['--transfer-window', 'soon'], 2, /^--transfer-window: a duration like 90s/],
    [['--fee', '5.5'], 2, /^--fee: a whole number of minor units/],
    [['--currency', 'rupees'], 2, /^--currency: three capital letters/],
    [['--time-zone', 'Mars/Olympus'], 2, /^--time-zone: unknown time zone/],
    [[], 2, /^tenant:settings: give at least one setting to change/],
    [['--reminder', '8d'], 1, /^--reminder: the approval escalation \(7d\) must come after the reminder \(8d\); nothing was changed/],
    [['--escalation', '1d'], 1, /^--escalation: the approval escalation \(1d\) must come after the reminder \(3d\)/],
    [['--colour', 'red'], 2, /Unknown option '--colour'/],
    [['--dues-split', 'national=50,province=20,district=20,localLevel=20'], 2, /^--dues-split: the shares must sum to 100, not 110/],
    [['--dues-split', 'national=40,province=20,district=40'], 2, /^--dues-split localLevel: Invalid input: expected number/],
    [['--dues-split', 'national:40'], 2, /^--dues-split: "national:40" is not level=percent/],
    [['--calendar', 'VS'], 2, /^--calendar: /],
    [['--term-months', '0'], 2, /^--term-months: /],
    [['--grace', 'sixty'], 2, /^--grace: a whole number of days/],
    [['--renewal-notice', '30d', '--term-months', '1'], 1, /^--renewal-notice: the renewal notice \(30 days\) must be shorter than a term of 1 month\(s\); nothing was changed/],
  ];
  for (const [flags, code, message] of cases) {
    const run = await cli(['tenant:settings', '--tenant', party.slug, ...flags]);
    expect({ flags, code: run.code, stderr: run.stderr }).toEqual({ flags, code, stderr: expect.stringMatching(message) });
  }
  expect(await cli(['tenant:settings', '--tenant', 'no-such-party', '--fee', '1'])).toMatchObject({ code: 1, stderr: '--tenant: no party with slug "no-such-party"\n' });
  expect(await findTenantBySlug(db.app, party.slug)).toEqual(before);
  expect((await auditOf(party, 'tenants')).length).toBe(auditBefore);
}, 120_000);

test('tenant:settings changes the terms and the dues split, audited', async () => {
  const run = await cli(['tenant:settings', '--tenant', other.slug, '--term-months', '24', '--renewal-fee', '25000', '--grace', '45d', '--calendar', 'ad',
    '--dues-split', 'national=25,province=25,district=25,local_level=25']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/dues split\s+national 25, province 25, district 25, local level 25\s+\(was national 40, province 20, district 20, local level 20\)/);
  expect(await findTenantBySlug(db.app, other.slug)).toMatchObject({
    termLengthMonths: 24, renewalFeeMinor: 25_000, gracePeriodDays: 45, calendar: 'AD', duesSplit: { national: 25, province: 25, district: 25, localLevel: 25 } });
  const [update] = (await auditOf(other, 'tenants')).filter((row) => row.op === 'UPDATE').slice(-1);
  expect(update?.new).toMatchObject({ term_length_months: 24, renewal_fee_minor: 25_000, grace_period_days: 45, calendar: 'AD', dues_split: { national: 25, localLevel: 25 } });
}, 60_000);

test('changeTenantSettings keeps the escalation after the reminder when both move', async () => {
  const changed = await changeTenantSettings(db.owner, other.slug, { approvalReminderAfterMs: 10 * 86_400_000, approvalEscalationAfterMs: 12 * 86_400_000 }, 'cli:tester');
  expect(changed?.after).toMatchObject({ approvalReminderAfterMs: 10 * 86_400_000, approvalEscalationAfterMs: 12 * 86_400_000 });
  expect(await changeTenantSettings(db.owner, 'nobody', { paymentWindowMs: 86_400_000 }, 'cli:tester')).toBeNull();
});

test('an audit row of a user never holds the password hash; a changed one says so', async () => {
  const user = await withTenant(db.app, { tenantId: party.id, actor: 'user:admin' }, (tx) =>
    createUser(tx, party.id, { email: 'hash@settings.test', displayName: 'Hash', password: 'a long enough password' }));
  await withTenant(db.app, { tenantId: party.id, actor: 'user:admin' }, (tx) =>
    tx.query(sql.unsafe`UPDATE users SET password_hash = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$bmV3aGFzaA', display_name = 'Renamed' WHERE id = ${user.id}`));
  const rows = (await auditOf(party, 'users')).filter((row) => row.record === user.id);
  expect(rows.map((row) => [row.op, row.old?.password_hash ?? null, row.new?.password_hash])).toEqual([
    ['INSERT', null, '[redacted]'],
    ['UPDATE', '[redacted]', '[redacted, changed]'],
  ]);
  expect(rows[1]!.new).toMatchObject({ display_name: 'Renamed', email: 'hash@settings.test' });
  // Nowhere in the party's trail: no argon2 hash at all.
  const leaked = await withTenant(db.app, { tenantId: party.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM audit_log WHERE old_row::text LIKE '%$argon2%' OR new_row::text LIKE '%$argon2%'`));
  expect(leaked).toBe(0);
  // An update that leaves the hash alone keeps the plain marker.
  await withTenant(db.app, { tenantId: party.id, actor: 'user:admin' }, (tx) => tx.query(sql.unsafe`UPDATE users SET is_active = false WHERE id = ${user.id}`));
  expect((await auditOf(party, 'users')).filter((row) => row.record === user.id).at(-1)?.new?.password_hash).toBe('[redacted]');
});

test('an audit row of a party key never holds the wrapped key', async () => {
  const keys = await auditOf(party, 'tenant_keys');
  expect(keys.length).toBe(3);
  expect(keys.every((row) => row.new?.wrapped_key === '[redacted]')).toBe(true);
  expect(keys.find((row) => row.new?.purpose === 'card_signing')?.new?.public_key).toMatch(/^\\x/);
});

test('a later table: one line redacts a column, and columns named as secrets are redacted without it', async () => {
  await db.owner.query(sql.unsafe`CREATE TABLE test_provider_credentials (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL REFERENCES tenants (id),
    provider text NOT NULL, wrapped_secret bytea NOT NULL, api_token text NOT NULL)`);
  await db.owner.query(sql.unsafe`SELECT isolate_tenant_table('test_provider_credentials')`);
  await db.owner.query(sql.unsafe`SELECT audit_redact('test_provider_credentials', 'api_token')`);
  await expect(db.owner.query(sql.unsafe`SELECT audit_redact('test_provider_credentials', 'no_such_column')`)).rejects.toThrow(/has no column no_such_column/);
  await db.owner.query(sql.unsafe`GRANT SELECT, INSERT ON test_provider_credentials TO sadasya_app`);
  await withTenant(db.app, { tenantId: party.id, actor: 'user:admin' }, (tx) => tx.query(sql.unsafe`
    INSERT INTO test_provider_credentials (tenant_id, provider, wrapped_secret, api_token) VALUES (${party.id}, 'esewa', '\\xdeadbeef', 'tok_live_123')`));
  const [row] = await auditOf(party, 'test_provider_credentials');
  expect(row?.new).toMatchObject({ provider: 'esewa', wrapped_secret: '[redacted]', api_token: '[redacted]' });
});

test('migrating to 0021 redacts the password hashes and wrapped keys audit rows already held', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'migrations-0021-'));
  try {
    const before = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql') && name < '0021');
    for (const name of before) await copyFile(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
    const urls = await bootstrapDatabase(process.env.TEST_PG_SUPERUSER_URL!, {
      database: `sadasya_test_lp_${randomBytes(4).toString('hex')}`,
      ownerPassword: process.env.TEST_PG_OWNER_PASSWORD!,
      appPassword: process.env.TEST_PG_APP_PASSWORD!,
    });
    await migrate(urls.ownerUrl, dir);
    const app: DatabasePool = await createDatabasePool(urls.appUrl, { maximumPoolSize: 2 });
    const owner: DatabasePool = await createDatabasePool(urls.ownerUrl, { maximumPoolSize: 2 });
    try {
      // Made as a party was before 0021, with that schema's columns only (today's createTenant reads columns added later).
      const old = { id: randomUUID() };
      await withTenant(app, { tenantId: old.id, actor: 'test' }, async (tx) => {
        await tx.query(sql.unsafe`INSERT INTO tenants (id, slug, name, member_number_prefix) VALUES (${old.id}, 'old-party', 'Old Party', 'OLD')`);
        await new Keyring(masterKeyFromBase64(MASTER_KEY)).provision(tx, old.id);
      });
      await withTenant(app, { tenantId: old.id, actor: 'test' }, (tx) => createUser(tx, old.id, { email: 'old@party.test', displayName: 'Old', password: 'a long enough password' }));
      const leaks = () => withTenant(app, { tenantId: old.id, actor: 'test' }, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM audit_log
        WHERE coalesce(new_row ->> 'password_hash', '[redacted]') <> '[redacted]' OR coalesce(new_row ->> 'wrapped_key', '[redacted]') <> '[redacted]'`));
      expect(await leaks()).toBe(4);
      await copyFile(path.join(MIGRATIONS_DIR, '0021_least_privilege.sql'), path.join(dir, '0021_least_privilege.sql'));
      expect((await migrate(urls.ownerUrl, dir)).applied).toEqual(['0021_least_privilege.sql']);
      expect(await leaks()).toBe(0);
      // The trail is append-only again.
      await expect(withTenant(owner, { tenantId: old.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`UPDATE audit_log SET actor = 'x'`))).rejects.toThrow(/append-only/);
    } finally {
      await Promise.all([app.end(), owner.end()]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
