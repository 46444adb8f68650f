import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'slonik';
import { z } from 'zod';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { verifyEventChain } from '../../src/events/event-store.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { assignMemberNumber } from '../../src/members/member-number.ts';
import { loadMember } from '../../src/members/member-store.ts';
import { findMemberIdByPhone, insertApplicant } from '../../src/members/member-repository.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { decryptField, normalizePhone } from '../../src/members/personal-data.ts';
import { projectRoot } from '../../src/paths.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, type MiniGeography } from '../support/fixtures.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
const HEADER = 'full_name_en,full_name_ne,gender,phone,email,date_of_birth,address,citizenship_no,ward_code,member_number,registered_at';
let db: TestDatabase;
let dir: string;
let geo: MiniGeography;

interface Run { code: number | null; stdout: string; stderr: string }

/** `node [nodeArgs] src/cli/main.ts ...args`; `onStderr` may kill the child, as a crash would. */
function cli(args: string[], onStderr?: (text: string, kill: () => void) => void, nodeArgs: string[] = []): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '', HOME: os.homedir(), NODE_ENV: 'test', DATA_DIR: dir, DATABASE_URL: db.appUrl, MASTER_KEY };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(projectRoot, 'src/cli/main.ts'), ...args], { env, cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (run.stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      run.stderr += chunk;
      onStderr?.(run.stderr, () => child.kill('SIGKILL'));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...run, code }));
  });
}

const inTenant = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);
const Num = z.object({ n: z.number() });
const countOf = (tenant: Tenant, query: ReturnType<typeof sql.fragment>) => inTenant(tenant, (tx) => tx.oneFirst(sql.type(Num)`SELECT count(*)::int4 AS n FROM (${query}) q`));
const membersOf = (tenant: Tenant, importId: string) => countOf(tenant, sql.fragment`SELECT 1 FROM members WHERE import_id = ${importId} AND status = 'active'`);
const eventsOf = (tenant: Tenant, type: string, importId: string) =>
  countOf(tenant, sql.fragment`SELECT 1 FROM event_store WHERE event_type = ${type} AND payload ->> 'importId' = ${importId}`);
const importIdIn = (run: Run) => /import ([0-9a-f-]{36})/.exec(run.stdout + run.stderr)?.[1] ?? 'none';

async function synthesize(tenant: Tenant, count: number, seed: number): Promise<string> {
  const file = path.join(dir, `${tenant.slug}-${seed}.csv`);
  expect(await cli(['members:synthesize', '--tenant', tenant.slug, '--count', String(count), '--out', file, '--seed', String(seed)])).toMatchObject({ code: 0 });
  return file;
}

async function csvFile(name: string, rows: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, [HEADER, ...rows].join('\n'));
  return file;
}

beforeAll(async () => {
  db = await createTestDatabase();
  geo = await seedMiniGeography(db.owner);
  dir = await mkdtemp(path.join(os.tmpdir(), 'member-import-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('a valid file arrives as active, numbered members with chained events and sealed personal data', async () => {
  const tenant = await makeTenant(db.app, keyring, 'valid-party', 'TST');
  const file = await synthesize(tenant, 2_000, 11);
  const run = await cli(['members:import', file, '--tenant', tenant.slug, '--batch', '500']);
  expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Imported 2000 members into valid-party as import [0-9a-f-]{36}\n$/) });
  expect(run.stderr).toContain('lines 1502-2001 committed, 2000/2000 rows');
  const importId = importIdIn(run);
  expect(await membersOf(tenant, importId)).toBe(2_000);
  expect(await eventsOf(tenant, 'MemberImported', importId)).toBe(2_000);
  const rows = parse<Record<string, string>>(await readFile(file), { columns: true });
  await inTenant(tenant, async (tx) => {
    expect(await verifyEventChain(tx, tenant.id)).toEqual({ brokenAt: null, checked: 2_000n });
    const numbers = await tx.anyFirst(sql.type(z.object({ n: z.string() }))`SELECT member_number AS n FROM members`);
    expect(new Set(numbers).size).toBe(2_000);
    const keys = await keyring.forTenant(tx, tenant.id);
    for (const row of rows.filter((_, index) => index % 97 === 0)) {
      const id = (await findMemberIdByPhone(tx, keys, normalizePhone(row.phone!)))!;
      const stored = await tx.one(sql.type(z.object({ phone: z.instanceof(Buffer), email: z.instanceof(Buffer).nullable(), number: z.string(), name: z.string() }))`
        SELECT phone_enc AS phone, email_enc AS email, member_number AS number, full_name_ne AS name FROM members WHERE id = ${id}`);
      expect(decryptField(keys, id, 'phone', stored.phone)).toBe(normalizePhone(row.phone!));
      expect(stored.email && decryptField(keys, id, 'email', stored.email)).toBe(row.email || null);
      expect(stored.number).toMatch(row.member_number ? new RegExp(`^${row.member_number}$`) : /^TST-\d{4}-[MFO]-\d{6}$/);
      expect(stored.name).toBe(row.full_name_ne);
      expect(await loadMember(tx, id)).toMatchObject({ status: 'active', version: 1, memberNumber: stored.number });
      const digits = row.phone!.slice(-10);
      const leaks = await tx.oneFirst(sql.type(Num)`
        SELECT (SELECT count(*) FROM members WHERE position(convert_to(${digits}, 'UTF8') IN phone_enc) > 0)::int4
             + (SELECT count(*) FROM audit_log WHERE new_row::text LIKE ${`%${digits}%`})::int4 AS n`);
      expect(leaks).toBe(0);
    }
  });
  const record = await inTenant(tenant, (tx) => tx.one(sql.unsafe`SELECT status, imported_rows, total_rows, batches_committed FROM member_imports WHERE id = ${importId}`));
  expect(record).toEqual({ status: 'completed', imported_rows: 2_000, total_rows: 2_000, batches_committed: 4 });
  await inTenant(tenant, async (tx) => {
    // The statistics written per batch equal a recount; one audit row per member (and per term), naming the importer.
    expect(await tx.oneFirst(sql.type(Num)`SELECT recount_member_statistics(${tenant.id}) AS n`)).toBe(0);
    const audited = await tx.any(sql.unsafe`
      SELECT a.table_name, count(*)::int4 AS n, count(DISTINCT a.new_row ->> 'id')::int4 AS rows, count(DISTINCT a.actor)::int4 AS actors
      FROM audit_log a WHERE a.operation = 'INSERT' AND a.table_name IN ('members', 'member_terms') GROUP BY 1 ORDER BY 1`);
    expect(audited).toEqual([{ table_name: 'member_terms', n: 2_000, rows: 2_000, actors: 1 }, { table_name: 'members', n: 2_000, rows: 2_000, actors: 1 }]);
    const sample = await tx.one(sql.unsafe`
      SELECT a.record_id = m.id::text AS same_id, a.new_row ->> 'member_number' = m.member_number AS same_number, a.actor IS NOT NULL AS actor
      FROM audit_log a JOIN members m ON m.id::text = a.record_id WHERE a.table_name = 'members' LIMIT 1`);
    expect(sample).toEqual({ same_id: true, same_number: true, actor: true });
  });
});

test("a new party's import goes in batch after batch once the event store's statistics are of other parties only", async () => {
  // ANALYZE before the party exists: the planner estimates its events at one row. The status
  // history of a batch of 2,000 first events was then planned as nested loops for minutes.
  const seen = await makeTenant(db.app, keyring, 'seen-party', 'SEE');
  expect(await cli(['members:import', await synthesize(seen, 2_000, 41), '--tenant', seen.slug, '--batch', '2000'])).toMatchObject({ code: 0 });
  await db.owner.query(sql.unsafe`ANALYZE event_store, member_status_changes, members`);
  const tenant = await makeTenant(db.app, keyring, 'unseen-party', 'UNS');
  const started = Date.now();
  const run = await cli(['members:import', await synthesize(tenant, 4_000, 42), '--tenant', tenant.slug, '--batch', '2000']);
  expect(run).toMatchObject({ code: 0, stdout: expect.stringContaining('Imported 4000 members') });
  expect(Date.now() - started).toBeLessThan(60_000);
  await inTenant(tenant, async (tx) => {
    expect(await verifyEventChain(tx, tenant.id)).toEqual({ brokenAt: null, checked: 4_000n });
    expect(await tx.oneFirst(sql.type(Num)`SELECT recount_member_statistics(${tenant.id}) AS n`)).toBe(0);
    expect(await tx.oneFirst(sql.type(Num)`SELECT count(*)::int4 AS n FROM member_status_changes WHERE status = 'active'`)).toBe(4_000);
  });
}, 180_000);

test('bad rows are reported by line and nothing is imported; --skip-invalid imports the rest', async () => {
  const tenant = await makeTenant(db.app, keyring, 'bad-rows-party', 'BAD');
  const file = await csvFile('bad.csv', [
    'Ram Thapa,राम थापा,M,9841000001,ram@example.com,1980-01-01,"Naya Bazar, Ward 1",12-01-75-00001,LT1_W1,,2019-05-01',
    'Sita Rai,,F,1234567,,,,,LT1_W2,,',
    'Hari Karki,,X,9841000003,not-an-email,2999-01-01,,,LT1_W3,,',
    ',,M,9841000004,,,,,NOWHERE,,',
    'Gita Gurung,,f,+977-9841000005,,,,,lt1_w2,OLD-0042,2020-02-02T10:00:00+05:45',
  ]);
  const refused = await cli(['members:import', file, '--tenant', tenant.slug]);
  expect(refused).toMatchObject({ code: 1, stdout: '' });
  expect(refused.stderr).toContain('Read 5 rows: 2 to import, 3 refused');
  expect(refused.stderr).toContain('line 3: phone: not a valid phone number');
  expect(refused.stderr).toMatch(/line 4: gender: .*; email: .*; date_of_birth: must be between 1900-01-01 and today/);
  expect(refused.stderr).toMatch(/line 5: full_name_en: .*; ward_code: no active ward "NOWHERE"/);
  expect(refused.stderr).toContain('Nothing imported: 3 rows refused');
  const rejected = parse<Record<string, string>>(await readFile(`${file}.rejected.csv`), { columns: true });
  expect(rejected.map((r) => [r.line, r.phone])).toEqual([['3', '1234567'], ['4', '9841000003'], ['5', '9841000004']]);
  expect(await countOf(tenant, sql.fragment`SELECT 1 FROM members UNION ALL SELECT 1 FROM member_imports`)).toBe(0);

  const skipped = await cli(['members:import', file, '--tenant', tenant.slug, '--skip-invalid']);
  expect(skipped).toMatchObject({ code: 0, stdout: expect.stringContaining('Imported 2 members') });
  expect(skipped.stdout).toContain('3 refused rows skipped');
  const kept = await inTenant(tenant, (tx) => tx.anyFirst(sql.type(z.object({ n: z.string() }))`SELECT member_number AS n FROM members ORDER BY n`));
  // The number carries the registration year in the party's calendar: 2019-05-01 is 18 Baisakh 2076 BS.
  expect(kept).toEqual([expect.stringMatching(/^BAD-2076-M-\d{6}$/), 'OLD-0042']);
});

test('duplicates within the file and of stored members are refused, whatever their spelling', async () => {
  const tenant = await makeTenant(db.app, keyring, 'dup-party', 'DUP');
  const first = await csvFile('first.csv', ['Ram Thapa,,M,9841100001,Ram@Example.com,,,,LT1_W1,DUP-OLD-1,']);
  expect(await cli(['members:import', first, '--tenant', tenant.slug])).toMatchObject({ code: 0 });
  const file = await csvFile('dups.csv', [
    'Shyam Thapa,,M,+977 984-1100001,,,,,LT1_W1,,',
    'Hari Rai,,M,9841100002,RAM@example.COM,,,,LT1_W1,,',
    'Gita Rai,,F,9841100003,gita@example.com,,,,LT1_W2,dup-old-2,',
    'Gita Rai,,F,9841100003,GITA@example.com,,,,LT1_W2,DUP-OLD-2,',
    'Mina Rai,,F,9841100004,,,,,LT1_W2,DUP-OLD-1,',
  ]);
  const run = await cli(['members:import', file, '--tenant', tenant.slug]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('line 2: phone: an existing member of this party has it');
  expect(run.stderr).toContain('line 3: email: an existing member of this party has it');
  expect(run.stderr).toContain('line 5: phone: same as line 4; email: same as line 4; member_number: same as line 4');
  expect(run.stderr).toContain('line 6: member_number: an existing member of this party has it');
  expect(run.stderr).not.toContain('line 4:');
  expect(await countOf(tenant, sql.fragment`SELECT 1 FROM members`)).toBe(1);
});

test('members who applied through the app count as stored members: their phone, email and number are refused', async () => {
  const tenant = await makeTenant(db.app, keyring, 'app-dup-party', 'APD');
  const memberId = randomUUID();
  const application = ApplicationSchema.parse({ fullNameEn: 'Sita Gurung', gender: 'F', phone: '9841200001', email: 'sita@example.com', wardId: geo.wardIds[0] });
  const number = await inTenant(tenant, async (tx) => {
    await insertApplicant(tx, sealApplication(await keyring.forTenant(tx, tenant.id), memberId, application, 'token'), `wf-${memberId}`);
    return assignMemberNumber(tx, memberId, tenant, new Date());
  });
  const file = await csvFile('applied.csv', [
    'Sita G,,F,+977-9841200001,,,,,LT1_W1,,',
    'Gita Gurung,,F,9841200002,SITA@example.com,,,,LT1_W1,,',
    `Mina Gurung,,F,9841200003,,,,,LT1_W1,${number},`,
    'Rita Gurung,,F,9841200004,rita@example.com,,,,LT1_W1,,',
  ]);
  const run = await cli(['members:import', file, '--tenant', tenant.slug]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('line 2: phone: an existing member of this party has it');
  expect(run.stderr).toContain('line 3: email: an existing member of this party has it');
  expect(run.stderr).toContain('line 4: member_number: an existing member of this party has it');
  expect(run.stderr).not.toContain('line 5:');

  const skipping = await cli(['members:import', file, '--tenant', tenant.slug, '--skip-invalid']);
  expect(skipping.code).toBe(0);
  expect(await countOf(tenant, sql.fragment`SELECT 1 FROM members`)).toBe(2);
  expect(await inTenant(tenant, async (tx) => findMemberIdByPhone(tx, await keyring.forTenant(tx, tenant.id), normalizePhone('9841200001')))).toBe(memberId);
});

test('an import streams: with the heap capped far below what the file\'s rows take in memory, every row goes in', async () => {
  const rows = Number(process.env.STREAM_ROWS ?? 40_000);
  const tenant = await makeTenant(db.app, keyring, 'stream-party', 'STR');
  const file = await synthesize(tenant, rows, 41);
  const run = await cli(['members:import', file, '--tenant', tenant.slug, '--batch', '2000'], undefined, [`--max-old-space-size=${process.env.STREAM_HEAP ?? 64}`]);
  expect(run).toMatchObject({ code: 0, stdout: expect.stringContaining(`Imported ${rows} members`) });
  expect(await membersOf(tenant, importIdIn(run))).toBe(rows);
}, 300_000);

test('an import killed after a committed batch resumes and imports the rest exactly once', async () => {
  const tenant = await makeTenant(db.app, keyring, 'resume-party', 'RES');
  const file = await synthesize(tenant, 2_000, 23);
  const crashed = await cli(['members:import', file, '--tenant', tenant.slug, '--batch', '200'], (text, kill) => {
    if (text.includes('committed')) kill();
  });
  expect(crashed.code).toBeNull();
  const importId = importIdIn(crashed);
  const partial = await membersOf(tenant, importId);
  expect([partial >= 200, partial < 2_000, partial % 200]).toEqual([true, true, 0]);
  const record = await inTenant(tenant, (tx) => tx.one(sql.unsafe`SELECT status, committed_through_line FROM member_imports WHERE id = ${importId}`));
  expect(record).toEqual({ status: 'running', committed_through_line: partial + 1 });

  const again = await cli(['members:import', file, '--tenant', tenant.slug]);
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining(`continue it with --resume ${importId}`) });
  const other = await synthesize(tenant, 10, 24);
  const wrongFile = await cli(['members:import', other, '--tenant', tenant.slug, '--resume', importId]);
  expect(wrongFile).toMatchObject({ code: 1, stderr: expect.stringContaining('read another file') });

  const resumed = await cli(['members:import', file, '--tenant', tenant.slug, '--resume', importId, '--batch', '700']);
  expect(resumed).toMatchObject({ code: 0, stdout: expect.stringContaining(`Imported ${2_000 - partial} members`) });
  expect(await membersOf(tenant, importId)).toBe(2_000);
  expect(await eventsOf(tenant, 'MemberImported', importId)).toBe(2_000);
  expect(await inTenant(tenant, (tx) => verifyEventChain(tx, tenant.id))).toEqual({ brokenAt: null, checked: 2_000n });
  const done = await inTenant(tenant, (tx) => tx.one(sql.unsafe`SELECT status, imported_rows FROM member_imports WHERE id = ${importId}`));
  expect(done).toEqual({ status: 'completed', imported_rows: 2_000 });
});

test('rollback deletes exactly that import, through its own narrow path, and appends why', async () => {
  const tenant = await makeTenant(db.app, keyring, 'rollback-party', 'ROL');
  const fileA = await synthesize(tenant, 500, 31);
  const runA = await cli(['members:import', fileA, '--tenant', tenant.slug, '--batch', '200']);
  const fileB = await csvFile('b.csv', ['Ram Thapa,,M,9841200001,,,,,LT1_W1,,', 'Sita Rai,,F,9841200002,,,,,LT1_W2,,']);
  const runB = await cli(['members:import', fileB, '--tenant', tenant.slug]);
  expect([runA.code, runB.code]).toEqual([0, 0]);
  const [idA, idB] = [importIdIn(runA), importIdIn(runB)];
  const memberOfA = await inTenant(tenant, (tx) => tx.oneFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM members WHERE import_id = ${idA} LIMIT 1`));
  await expect(inTenant(tenant, (tx) => tx.query(sql.unsafe`DELETE FROM members WHERE import_id = ${idA}`))).rejects.toThrow(/permission denied/);
  await expect(inTenant(tenant, (tx) => tx.query(sql.unsafe`SELECT delete_imported_members(${idA}, ARRAY[${memberOfA}]::uuid[])`))).rejects.toThrow(/not being rolled back/);
  await inTenant(tenant, (tx) => tx.query(sql.unsafe`UPDATE members SET version = 2 WHERE import_id = ${idB} AND phone_bidx IS NOT NULL AND full_name_en = 'Sita Rai'`));
  const refused = await cli(['members:import:rollback', '--tenant', tenant.slug, idB]);
  expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining(`1 members of import ${idB} changed after the import`) });
  expect(await cli(['members:import:rollback', '--tenant', 'valid-party', idA])).toMatchObject({ code: 1, stderr: expect.stringContaining(`no import ${idA}`) });

  const rolled = await cli(['members:import:rollback', '--tenant', tenant.slug, idA]);
  expect(rolled).toMatchObject({ code: 0, stdout: `Rolled back import ${idA} of rollback-party: 500 members deleted\n` });
  expect(await countOf(tenant, sql.fragment`SELECT 1 FROM members WHERE import_id = ${idA}`)).toBe(0);
  expect(await membersOf(tenant, idB)).toBe(2);
  expect([await eventsOf(tenant, 'MemberImported', idA), await eventsOf(tenant, 'MemberImportRolledBack', idA)]).toEqual([500, 500]);
  await inTenant(tenant, async (tx) => {
    expect(await verifyEventChain(tx, tenant.id)).toEqual({ brokenAt: null, checked: 1_002n });
    expect(await loadMember(tx, memberOfA)).toMatchObject({ status: 'new', version: 2, memberNumber: null });
    expect(await tx.one(sql.unsafe`SELECT status, rolled_back_rows FROM member_imports WHERE id = ${idA}`)).toEqual({ status: 'rolled_back', rolled_back_rows: 500 });
    expect(await tx.oneFirst(sql.unsafe`SELECT count(*)::int4 FROM audit_log WHERE table_name = 'members' AND operation = 'DELETE'`)).toBe(500);
  });
  expect(await cli(['members:import:rollback', '--tenant', tenant.slug, idA])).toMatchObject({ code: 1, stderr: expect.stringContaining('rolled back already') });
  expect(await cli(['members:import', fileA, '--tenant', tenant.slug])).toMatchObject({ code: 0, stdout: expect.stringContaining('Imported 500 members') });
});
