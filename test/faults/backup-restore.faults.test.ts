import { createHash, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { LineMac, macLine, parseRowLine, snapshotMacKey, TableChecksums, type SnapshotHeader } from '../../src/backup/snapshot-format.ts';
import { readCatalog } from '../../src/backup/table-catalog.ts';
import { inSnapshot, tableChecksums } from '../../src/backup/tenant-export.ts';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { verifyAnchoredChain } from '../../src/events/chain-anchors.ts';
import { readContact } from '../../src/members/member-repository.ts';
import { acceptedWebhookSecrets } from '../../src/payments/webhook-secrets.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';
import { runCli } from './support/cli.ts';
import { faultTempDir, startOwnPostgres, type OwnPostgres } from './support/own-servers.ts';
import { makeSecrets, seedParty, type Party } from './support/party.ts';
import { populate, type PopulatedMember } from './support/populate.ts';

let temp: Awaited<ReturnType<typeof faultTempDir>>;
let pg: OwnPostgres;
let db: { app: DatabasePool; owner: DatabasePool };
let smtp: SmtpCapture;
const secrets = makeSecrets();
const parties: { party: Party; members: PopulatedMember[] }[] = [];
const cliEnv = () => ({ DATABASE_OWNER_URL: pg.ownerUrl, DATABASE_URL: pg.appUrl, MASTER_KEY: secrets.masterKeyBase64 });

beforeAll(async () => {
  temp = await faultTempDir('backup');
  pg = await startOwnPostgres(temp.dir, 'sadasya_backup_test');
  db = { app: await createDatabasePool(pg.appUrl), owner: await createDatabasePool(pg.ownerUrl, { maximumPoolSize: 2 }) };
  smtp = await startSmtpCapture();
  for (const [slug, code] of [['backup-a', 'BA'], ['backup-b', 'BB']] as const) {
    const party = await seedParty(db, secrets, slug, code);
    const members = await populate(db.app, party, smtp.url, temp.dir, ['active', 'active', 'rejected', 'awaiting_payment', 'awaiting_approval', 'active']);
    parties.push({ party, members });
  }
}, 180_000);
afterAll(async () => {
  await Promise.allSettled([db?.app.end(), db?.owner.end(), smtp?.stop()]);
  await pg?.server.stop();
  await temp?.remove();
});

/** Each tenant table's row count and SHA-256 as the database holds them now (the export's own reader). */
const liveChecksums = (tenantId: string) => inSnapshot(db.owner, async (tx) => {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantId}, true)`);
  return tableChecksums(tx, await readCatalog(tx), tenantId);
});

const inParty = <T>(party: Party, work: Parameters<typeof withTenant<T>>[2]) => withTenant(db.app, { tenantId: party.tenant.id, actor: 'test' }, work);

async function expectIntact(party: Party, members: readonly PopulatedMember[], before: Awaited<ReturnType<typeof liveChecksums>>): Promise<void> {
  expect(await liveChecksums(party.tenant.id)).toEqual(before);
  const chain = await inParty(party, (tx) => tx.one(sql.type(z.object({ broken: z.string().nullable(), checked: z.coerce.number() }))`
    SELECT first_broken_position::text AS broken, checked FROM verify_event_chain(${party.tenant.id}::uuid)`));
  expect(chain).toEqual({ broken: null, checked: before.event_store?.rows });
  const keyring = new Keyring(secrets.masterKey);
  const contacts = await inParty(party, async (tx) => {
    const keys = await keyring.forTenant(tx, party.tenant.id);
    return Promise.all(members.map((m) => readContact(tx, keys, m.memberId)));
  });
  expect(contacts).toEqual(members.map((m) => ({ phone: m.phone, email: m.email })));
  // The webhook secret unwraps under its party, provider and row as before.
  expect((await acceptedWebhookSecrets(db.app, keyring, party.tenant.slug, 'esewa', new Date())).map(String)).toEqual([party.webhookSecret]);
  await expect(inParty(party, (tx) => new Keyring(masterKeyFromBase64(makeSecrets().masterKeyBase64)).forTenant(tx, party.tenant.id))).rejects.toThrow();
}

test('tenant:export, wipe the database, tenant:import: every table, the event chain and the personal data come back', async () => {
  const [{ party, members }] = parties as [(typeof parties)[0]];
  const file = path.join(temp.dir, 'backup-a.snapshot.jsonl');
  const exported = await runCli(['tenant:export', party.tenant.slug, '--out', file], cliEnv());
  expect(exported).toMatchObject({ code: 0, stderr: '' });
  console.log(exported.stdout);
  // What the export read: it anchored the event chain first, so the snapshot holds that anchor too.
  const before = await liveChecksums(party.tenant.id);
  expect(Object.entries(before).filter(([, sum]) => sum.rows > 0).map(([table]) => table).sort())
    .toEqual(expect.arrayContaining(['audit_log', 'event_store', 'event_chain_anchors', 'event_chain_heads', 'id_cards', 'invoices', 'mail_deliveries', 'members', 'payments', 'tenant_keys', 'tenants', 'users', 'geography_nodes', 'payment_webhook_secrets']));
  const other = parties[1]!;
  const otherFile = path.join(temp.dir, 'backup-b.snapshot.jsonl');
  expect(await runCli(['tenant:export', other.party.tenant.slug, '--out', otherFile], cliEnv())).toMatchObject({ code: 0 });
  const otherBefore = await liveChecksums(other.party.tenant.id);

  const started = Date.now();
  await pg.recreate();
  const wiped = await liveChecksums(party.tenant.id);
  expect(wiped.members?.rows).toBe(0);
  const tampered = `${file}.tampered`;
  await writeFile(tampered, (await readFile(file, 'utf8')).replace('"status": "active"', '"status": "lapsed"'));
  expect(await runCli(['tenant:import', tampered], cliEnv())).toMatchObject({ code: 1, stderr: expect.stringMatching(/its MAC does not verify under this master key: the file was altered, or signed under another master key; nothing was restored/) });
  expect(await liveChecksums(party.tenant.id)).toEqual(wiped);
  const imported = await runCli(['tenant:import', file], cliEnv());
  expect(imported).toMatchObject({ code: 0, stderr: '' });
  console.log(`${imported.stdout}backup-restore: wipe + import took ${(Date.now() - started) / 1000} s`);
  await expectIntact(party, members, before);
  const anchored = await inParty(party, (tx) => verifyAnchoredChain(tx, party.tenant.id, new Keyring(masterKeyFromBase64(secrets.masterKeyBase64))));
  expect(anchored).toMatchObject({ intact: true, anchors: { anchors: 1, unanchoredEvents: 0n } });
  expect(await runCli(['tenant:import', file], cliEnv())).toMatchObject({ code: 1, stderr: expect.stringContaining('already has party backup-a') });
  // A second party into the same database: the shared geography is there already, and identical.
  expect(await runCli(['tenant:import', otherFile], cliEnv())).toMatchObject({ code: 0, stderr: '' });
  expect(await liveChecksums(other.party.tenant.id)).toEqual(otherBefore);

  // The restored sequence goes on where it stood: the next member gets number 4, not 1 again.
  await populate(db.app, party, smtp.url, temp.dir, ['active'], members.length);
  const numbers = await inParty(party, (tx) => tx.anyFirst(sql.type(z.object({ n: z.string() }))`
    SELECT member_number AS n FROM members WHERE member_number IS NOT NULL`));
  expect(numbers.map((n) => n.slice(-6)).sort()).toEqual(['000001', '000002', '000003', '000004']);
}, 300_000);

test('db:backup of every party, wipe, db:restore: every party comes back whole', async () => {
  const before = await Promise.all(parties.map(({ party }) => liveChecksums(party.tenant.id)));
  const dir = path.join(temp.dir, 'full-backup');
  const backup = await runCli(['db:backup', '--out', dir], cliEnv());
  expect(backup).toMatchObject({ code: 0, stdout: expect.stringContaining('Backed up 2 parties (backup-a, backup-b)') });
  await pg.recreate();
  const restored = await runCli(['db:restore', dir], cliEnv());
  expect(restored).toMatchObject({ code: 0, stdout: expect.stringContaining('Restored 2 parties') });
  console.log(`${backup.stdout}${restored.stdout}`);
  for (const [index, { party }] of parties.entries()) {
    expect(await liveChecksums(party.tenant.id)).toEqual(before[index]);
  }
  const [second] = parties.slice(1) as [(typeof parties)[0]];
  await expectIntact(second.party, second.members, before[1]!);
}, 300_000);

test('db:dump (pg_dump) of the whole database, drop it, db:restore-dump into an empty one: every party comes back whole', async () => {
  const before = await Promise.all(parties.map(({ party }) => liveChecksums(party.tenant.id)));
  const file = path.join(temp.dir, 'sadasya.pgdump');
  const env = { ...cliEnv(), DATABASE_ADMIN_URL: pg.adminUrl };
  const dumped = await runCli(['db:dump', '--out', file], env);
  expect(dumped).toMatchObject({ code: 0, stdout: expect.stringContaining('pg_dump, custom format') });
  expect(await runCli(['db:dump', '--out', file], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('exists') });
  // A database that is not empty is refused, and left as it was.
  expect(await runCli(['db:restore-dump', file], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('restore into an empty one') });

  await pg.recreateEmpty();
  expect(await db.owner.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toBe(0);
  const restored = await runCli(['db:restore-dump', file], env);
  expect(restored).toMatchObject({ code: 0, stderr: '' });
  expect(restored.stdout).toMatch(/event chains verified: backup-a \(\d+ events\), backup-b \(\d+ events\)/);
  console.log(`${dumped.stdout}${restored.stdout}`);
  for (const [index, { party }] of parties.entries()) {
    expect(await liveChecksums(party.tenant.id)).toEqual(before[index]);
  }
  const [first] = parties as [(typeof parties)[0]];
  await expectIntact(first.party, first.members, before[0]!);
  // The catalog change no dump carries is made again: search filters stay index conditions.
  const leakproof = await db.owner.anyFirst(sql.type(z.object({ p: z.boolean() }))`
    SELECT proleakproof AS p FROM pg_proc WHERE oid IN ('pg_catalog.enum_eq(anyenum, anyenum)'::regprocedure, 'pg_catalog.texticlike(text, text)'::regprocedure)`);
  expect(leakproof).toEqual([true, true]);
  // The application role still sees nothing without a party, and its own party's rows with one.
  expect(await db.app.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`)).toBe(0);
}, 300_000);

/**
 * The snapshot with its manifest and MAC made again for its (changed) rows: what only a holder of
 * the master key could write, so a refusal of it is the row check's, not the MAC's.
 */
function resigned(text: string, macKey: Buffer): string {
  const lines = text.trimEnd().split('\n');
  const headerLine = lines[0]!;
  const header = (JSON.parse(headerLine) as { snapshot: SnapshotHeader }).snapshot;
  const rows = lines.filter((line) => parseRowLine(line) !== null);
  const { manifest } = JSON.parse(lines.find((line) => line.startsWith('{"manifest":'))!) as { manifest: Record<string, unknown> };
  const sums = new TableChecksums(header.tables.map((t) => t.name));
  const body = createHash('sha256').update(headerLine).update('\n');
  for (const row of rows) {
    const { table, row: rowText } = parseRowLine(row)!;
    sums.add(table, rowText);
    body.update(row).update('\n');
  }
  const signed = [headerLine, ...rows, JSON.stringify({ manifest: { ...manifest, tables: sums.digest(), bodySha256: body.digest('hex') } })];
  const mac = new LineMac(macKey);
  for (const line of signed) mac.add(line);
  return `${[...signed, macLine(mac.digest())].join('\n')}\n`;
}

test('a snapshot is restored only when its MAC verifies under the master key, and only with rows of its own party', async () => {
  const [{ party }] = parties as [(typeof parties)[0]];
  const otherId = parties[1]!.party.tenant.id;
  const file = path.join(temp.dir, 'signed.snapshot.jsonl');
  expect(await runCli(['tenant:export', party.tenant.slug, '--out', file], cliEnv())).toMatchObject({ code: 0, stderr: '' });
  const text = await readFile(file, 'utf8');
  const macKey = snapshotMacKey(secrets.masterKey);
  expect(resigned(text, macKey)).toBe(text);

  await pg.recreate();
  const wiped = await liveChecksums(party.tenant.id);
  const parties0 = await db.owner.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM tenants`);
  const refused = async (name: string, content: string, message: RegExp, env = cliEnv()) => {
    const crafted = path.join(temp.dir, `${name}.snapshot.jsonl`);
    await writeFile(crafted, content);
    const run = await runCli(['tenant:import', crafted], env);
    expect({ name, code: run.code, stderr: run.stderr }).toEqual({ name, code: 1, stderr: expect.stringMatching(message) });
    expect(run.stderr).toMatch(/; nothing was restored\n$/);
    expect(await liveChecksums(party.tenant.id)).toEqual(wiped);
    expect(await db.owner.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM tenants`)).toEqual(parties0);
  };
  const lines = text.trimEnd().split('\n');
  // No MAC (cut off, or written by an older version), a MAC under another master key, one byte changed.
  await refused('unsigned', `${lines.slice(0, -1).join('\n')}\n`, /has no MAC: it is truncated, or was not written by tenant:export of this version/);
  await refused('other-key', text, /its MAC does not verify under this master key/, { ...cliEnv(), MASTER_KEY: makeSecrets().masterKeyBase64 });
  await refused('altered', text.replace('"status": "active"', '"status": "lapsed"'), /its MAC does not verify under this master key/);
  await refused('manifest-redone', resigned(text.replace('"status": "active"', '"status": "lapsed"'), snapshotMacKey(makeSecrets().masterKey)), /its MAC does not verify/);

  // Validly signed, but carrying another party: a second tenants row (no row-level security
  // there), and a member whose tenant_id is another party's.
  const tenantLine = lines.find((line) => line.startsWith('{"t":"tenants",'))!;
  const rogue = tenantLine.replaceAll(party.tenant.id, randomUUID()).replace(`"slug": "${party.tenant.slug}"`, '"slug": "rogue-party"');
  expect(rogue).not.toBe(tenantLine);
  await refused('rogue-tenant', resigned(text.replace(tenantLine, `${tenantLine}\n${rogue}`), macKey),
    new RegExp(`the snapshot of party ${party.tenant.id} holds 1 rows of tenants that belong to another party: refused`));
  const memberLine = lines.find((line) => line.startsWith('{"t":"members",'))!;
  const foreignMember = memberLine.replace(`"tenant_id": "${party.tenant.id}"`, `"tenant_id": "${otherId}"`);
  expect(foreignMember).not.toBe(memberLine);
  await refused('foreign-member', resigned(text.replace(memberLine, foreignMember), macKey), /holds 1 rows of members that belong to another party: refused/);

  expect(await runCli(['tenant:import', file], cliEnv())).toMatchObject({ code: 0, stderr: '' });

  // A whole backup's index is signed too: a party dropped from it is noticed.
  const dir = path.join(temp.dir, 'signed-backup');
  expect(await runCli(['db:backup', '--out', dir], cliEnv())).toMatchObject({ code: 0 });
  const indexFile = path.join(dir, 'backup.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as { tenants: { slug: string }[] };
  await writeFile(indexFile, JSON.stringify({ ...index, tenants: index.tenants.filter((t) => t.slug !== party.tenant.slug) }));
  expect(await runCli(['db:restore', dir], cliEnv())).toMatchObject({ code: 1, stderr: expect.stringContaining('backup.json: its MAC does not verify under this master key') });
}, 300_000);
