import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { verifyToken } from '../../src/auth/tokens.ts';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { anchorChain } from '../../src/events/chain-anchors.ts';
import { appendToStream } from '../../src/events/event-store.ts';
import { acceptedWebhookSecrets, createWebhookSecret, rotateWebhookSecret, webhookSecretAad } from '../../src/payments/webhook-secrets.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { findTenantBySlug, type Tenant } from '../../src/tenants/tenants.ts';
import { createUser, currentRoles, verifyUserPassword } from '../../src/users/users.ts';
import { rewriteEventAndRehash } from '../support/chain-tampering.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeCommittee, makeTenant, seedMiniGeography, type MiniGeography } from '../support/fixtures.ts';
import { runOperatorCli, type CliRun } from '../support/cli-process.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const AUTH_TOKEN_SECRET = randomBytes(32).toString('base64');
const PASSWORD = 'a long enough password';

let db: TestDatabase;
let geo: MiniGeography;
let dataDir: string;
let seeded: Tenant;

/** The operator CLI with this test's database and keys; `unset` takes variables away. */
function cli(args: string[], options: { input?: string; env?: Record<string, string>; unset?: string[] } = {}): Promise<CliRun> {
  const env: Record<string, string> = { DATA_DIR: dataDir, DATABASE_URL: db.appUrl, DATABASE_OWNER_URL: db.ownerUrl, MASTER_KEY, AUTH_TOKEN_SECRET, ...options.env };
  for (const name of options.unset ?? []) delete env[name];
  return runOperatorCli(args, env, options.input);
}

const inTenant = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);
const Counts = z.object({ keys: z.number(), users: z.number(), roles: z.number(), committees: z.number(), committeeRoles: z.number() });

/** Every row the commands write, per party (row-level security hides them from any other context). */
async function rowCounts(): Promise<Record<string, unknown>> {
  const tenants = await db.app.any(sql.type(z.object({ id: z.string(), slug: z.string() }))`SELECT id, slug FROM tenants ORDER BY slug`);
  const counts: Record<string, unknown> = {};
  for (const { id, slug } of tenants) {
    counts[slug] = await withTenant(db.app, { tenantId: id, actor: 'test' }, (tx) => tx.one(sql.type(Counts)`
      SELECT (SELECT count(*)::int4 FROM tenant_keys) AS keys, (SELECT count(*)::int4 FROM users) AS users,
             (SELECT count(*)::int4 FROM user_roles) AS roles, (SELECT count(*)::int4 FROM committees) AS committees,
             (SELECT count(*)::int4 FROM committee_roles) AS "committeeRoles"`));
  }
  return counts;
}
const OpenHead = z.object({ email: z.string(), validTo: z.number().nullable() });
const heads = (tenant: Tenant, committeeId: string) => inTenant(tenant, (tx) => tx.any(sql.type(OpenHead)`
  SELECT u.email, r.valid_to AS "validTo" FROM committee_roles r JOIN users u ON u.id = r.user_id
  WHERE r.committee_id = ${committeeId} AND r.role = 'head' ORDER BY r.valid_from`));

beforeAll(async () => {
  db = await createTestDatabase();
  geo = await seedMiniGeography(db.owner);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'cli-int-'));
  seeded = await makeTenant(db.app, new Keyring(masterKeyFromBase64(MASTER_KEY)), 'seeded-party', 'SP');
  await inTenant(seeded, (tx) => createUser(tx, seeded.id, { email: 'taken@seeded.test', displayName: 'Taken', password: PASSWORD }));
});
afterAll(async () => {
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('first day: a party, an admin, committees, a head appointed and replaced, a token, the list', async () => {
  const created = await cli(['tenant:create', '--slug', 'uml', '--name', 'CPN (UML)', '--prefix', 'UML', '--fee', '50000', '--reminder', '36h', '--escalation', '5d', '--payment-window', '90m']);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  expect(created.stdout).toContain('Created party uml (CPN (UML))');
  const tenant = (await findTenantBySlug(db.app, 'uml'))!;
  expect(tenant).toMatchObject({ memberNumberPrefix: 'UML', feeSchedule: { currency: 'NPR', admissionFeeMinor: 50_000 }, approvalReminderAfterMs: 36 * 3_600_000, approvalEscalationAfterMs: 5 * 86_400_000, paymentWindowMs: 90 * 60_000 });
  await expect(inTenant(tenant, (tx) => new Keyring(masterKeyFromBase64(MASTER_KEY)).forTenant(tx, tenant.id))).resolves.toMatchObject({ tenantId: tenant.id });

  const admin = await cli(['user:create', '--tenant', 'uml', '--email', 'Admin@UML.test', '--name', 'Party Admin', '--password-stdin', '--role', 'tenant_admin'], { input: `${PASSWORD}\n` });
  expect(admin).toMatchObject({ code: 0, stderr: '' });
  const head = await cli(['user:create', '--tenant', 'uml', '--email', 'head@uml.test', '--name', 'Ward Head', '--password-env', 'HEAD_PASSWORD'], { env: { HEAD_PASSWORD: `${PASSWORD}!` } });
  expect(head).toMatchObject({ code: 0, stderr: '' });
  const adminId = await inTenant(tenant, (tx) => verifyUserPassword(tx, 'admin@uml.test', PASSWORD));
  expect(adminId).toEqual(expect.any(String));
  expect(await inTenant(tenant, (tx) => currentRoles(tx, adminId!))).toEqual(['tenant_admin']);
  const headId = await inTenant(tenant, (tx) => verifyUserPassword(tx, 'head@uml.test', `${PASSWORD}!`));
  expect(headId).toEqual(expect.any(String));

  expect(await cli(['committee:create', '--tenant', 'uml', '--geography', 'PT1', '--name', 'Province Committee'])).toMatchObject({ code: 0 });
  const local = await cli(['committee:create', '--tenant', 'uml', '--geography', 'LT1', '--name', 'Municipal Committee']);
  expect(local.code).toBe(0);
  expect(local.stdout).toMatch(/parent committee: Province Committee \(.+, on PT1\)/);
  const committeeId = /id ([0-9a-f-]{36})/.exec(local.stdout)?.[1] ?? '';
  const committeeRow = await inTenant(tenant, (tx) => tx.maybeOneFirst(sql.type(z.object({ g: z.string() }))`SELECT geography_id AS g FROM committees WHERE id = ${committeeId}`));
  expect(committeeRow).toBe(geo.localLevelId);

  const appointed = await cli(['committee:appoint', '--tenant', 'uml', '--committee', committeeId, '--user', 'head@uml.test', '--role', 'head']);
  expect(appointed).toMatchObject({ code: 0, stderr: '' });
  const replaced = await cli(['committee:appoint', '--tenant', 'uml', '--committee', committeeId, '--user', 'admin@uml.test', '--role', 'head']);
  expect(replaced.stdout).toContain('ended the head term of head@uml.test');
  expect((await heads(tenant, committeeId)).map((h) => [h.email, h.validTo === null ? 'open' : 'ended'])).toEqual([['head@uml.test', 'ended'], ['admin@uml.test', 'open']]);
  const actors = await inTenant(tenant, (tx) => tx.anyFirst(sql.type(z.object({ actor: z.string() }))`SELECT DISTINCT actor FROM audit_log WHERE table_name = 'committee_roles'`));
  expect(actors).toEqual([`cli:${os.userInfo().username}`]);

  const minted = await cli(['token:mint', '--tenant', 'uml', '--user', 'head@uml.test']);
  expect(minted.code).toBe(0);
  expect(minted.stderr).toContain('Bearer token for head@uml.test in uml');
  expect(await verifyToken(Buffer.from(AUTH_TOKEN_SECRET, 'base64'), minted.stdout.trim())).toEqual({ userId: headId, tenantId: tenant.id });

  const listed = await cli(['tenant:list']);
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n').filter((line) => /^(seeded-party|uml) /.test(line))).toEqual([
    expect.stringMatching(/^seeded-party +SP .* Party seeded-party$/),
    expect.stringMatching(/^uml +UML .* CPN \(UML\)$/),
  ]);
});

const NEW_PARTY = ['tenant:create', '--slug', 'x', '--name', 'X', '--prefix', 'XX'];
const NEW_USER = ['user:create', '--tenant', 'seeded-party', '--email', 'a@b.test', '--name', 'A'];
const APPOINT = ['committee:appoint', '--tenant', 'seeded-party', '--user', 'a@b.test'];

test.each([
  [NEW_PARTY, /^--fee: is required/],
  [[...NEW_PARTY, '--fee', '12.50'], /^--fee: a whole number of minor units/],
  [[...NEW_PARTY, '--fee', '1', '--reminder', '3 weeks'], /^--reminder: a duration like/],
  [[...NEW_PARTY, '--fee', '1', '--escalation', '1d'], /^--escalation: must be longer than/],
  [[...NEW_PARTY, '--fee', '1', '--prefix', 'lower'], /^--prefix: 2-8 capital letters/],
  [[...NEW_PARTY, '--bogus'], /^Unknown option '--bogus'/],
  [NEW_USER, /^give exactly one of --password-stdin or --password-env/],
  [[...NEW_USER, '--password', PASSWORD], /^Unknown option '--password'/],
  [[...NEW_USER, '--password-stdin', '--role', 'king'], /^--role: one of tenant_admin/],
  [[...NEW_USER, '--password-stdin', '--email', 'not-an-email'], /^--email: /],
  [['committee:create', '--tenant', 'seeded-party', '--name', 'C'], /^--geography: is required/],
  [[...APPOINT, '--committee', 'c1', '--role', 'head'], /^--committee: must be a committee id/],
  [[...APPOINT, '--committee', crypto.randomUUID(), '--role', 'chair'], /^--role: one of head, secretary, member/],
  [['token:mint', '--tenant', 'seeded-party'], /^--user: is required/],
  [['tenant:list', 'extra'], /^Unexpected argument 'extra'/],
])('%j exits 2 naming the flag, and writes nothing', async (args, message) => {
  const before = await rowCounts();
  const run = await cli(args, { input: `${PASSWORD}\n` });
  expect(run).toMatchObject({ code: 2, stdout: '' });
  expect(run.stderr).toMatch(message);
  expect(await rowCounts()).toEqual(before);
});

test('business failures exit 1 with one line naming the flag, and leave nothing half-created', async () => {
  const committeeId = await makeCommittee(db.app, seeded.id, geo.wardIds[0]!, 'Ward 1');
  expect(await cli(['committee:appoint', '--tenant', 'seeded-party', '--committee', committeeId, '--user', 'taken@seeded.test', '--role', 'head'])).toMatchObject({ code: 0 });
  const before = await rowCounts();
  const failures: [string[], RegExp][] = [
    [['tenant:create', '--slug', 'seeded-party', '--name', 'Again', '--prefix', 'AG', '--fee', '1'], /^--slug: a party with slug "seeded-party" already exists\n$/],
    [['user:create', '--tenant', 'seeded-party', '--email', 'TAKEN@seeded.test', '--name', 'Again', '--password-stdin'], /^--email: taken@seeded.test is already a user of seeded-party\n$/],
    [['user:create', '--tenant', 'no-such-party', '--email', 'x@y.test', '--name', 'X', '--password-stdin'], /^--tenant: no party with slug "no-such-party"\n$/],
    [['committee:create', '--tenant', 'seeded-party', '--geography', 'NOWHERE', '--name', 'C'], /^--geography: no active geography node "NOWHERE"\n$/],
    [['committee:create', '--tenant', 'seeded-party', '--geography', 'LT1_W1', '--name', 'C'], /^--geography: geography node LT1_W1 already has a committee\n$/],
    [['committee:appoint', '--tenant', 'seeded-party', '--committee', committeeId, '--user', 'nobody@seeded.test', '--role', 'head'], /^--user: no active user with email nobody@seeded.test/],
    [['committee:appoint', '--tenant', 'uml-not-created', '--committee', committeeId, '--user', 'taken@seeded.test', '--role', 'head'], /^--tenant: no party/],
  ];
  for (const [args, message] of failures) {
    const run = await cli(args, { input: `${PASSWORD}\n` });
    expect([args, run.code, run.stderr]).toEqual([args, 1, expect.stringMatching(message)]);
  }
  expect(await rowCounts()).toEqual(before);
  expect(await heads(seeded, committeeId)).toEqual([{ email: 'taken@seeded.test', validTo: null }]);
});

test('a missing setting is named: AUTH_TOKEN_SECRET for token:mint, DATABASE_URL for the rest', async () => {
  const mint = await cli(['token:mint', '--tenant', 'seeded-party', '--user', 'taken@seeded.test'], { unset: ['AUTH_TOKEN_SECRET'] });
  expect(mint).toMatchObject({ code: 1, stdout: '' });
  expect(mint.stderr).toMatch(/^AUTH_TOKEN_SECRET is not set/);
  const list = await cli(['tenant:list'], { unset: ['DATABASE_URL'] });
  expect(list.code).toBe(1);
  expect(list.stderr).toMatch(/^DATABASE_URL is not set: tenant:list connects as the application role/);
});

test('events:verify: exit 0 while the chain and its anchors hold; 1 once the owner rewrites an event and recomputes every hash', async () => {
  const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
  const party = await makeTenant(db.app, keyring, 'verified-party', 'VP');
  for (let i = 0; i < 3; i++) {
    await inTenant(party, (tx) => appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: randomUUID(), expectedVersion: 0, events: [{ type: 'MemberRegistered', payload: { i } }], metadata: { actor: 'test' } }));
  }
  await inTenant(party, (tx) => anchorChain(tx, party.id, keyring, () => new Date(), 'periodic'));
  const intact = await cli(['events:verify', '--tenant', 'verified-party']);
  expect(intact).toMatchObject({ code: 0, stderr: '' });
  expect(intact.stdout).toMatch(/^verified-party: intact\n {2}hash chain: 3 event\(s\) link up\n {2}anchors: 1 hold; anchored through chain position 3 at .+; 0 event\(s\) after it\n$/);

  await rewriteEventAndRehash(db.owner, party.id, 2n);
  const rewritten = await cli(['events:verify', '--tenant', 'verified-party']);
  expect(rewritten.code).toBe(1);
  expect(rewritten.stdout).toContain('verified-party: NOT INTACT\n  hash chain: 3 event(s) link up\n  anchors: BROKEN: anchor');
  expect(rewritten.stdout).toContain('the event at chain position 3 no longer has the anchored hash: events were rewritten');

  expect(await cli(['events:verify', '--tenant', 'no-such-party'])).toMatchObject({ code: 1, stderr: '--tenant: no party with slug "no-such-party"\n' });
});

test('webhook secrets: created and printed once, rotated with an overlap that can end now, listed and audited without the secret, bound to party, provider and row', async () => {
  const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
  const accepted = (slug: string, provider: string, at = new Date()) => acceptedWebhookSecrets(db.app, keyring, slug, provider, at).then((keys) => keys.map(String));
  const created = await cli(['webhook:secret:create', '--tenant', 'seeded-party', '--provider', 'esewa']);
  expect(created.code).toBe(0);
  expect(created.stderr).toContain('esewa webhooks to seeded-party. It is shown only this once');
  const first = created.stdout.trim();
  expect(first).toMatch(/^whsec_[\w-]{43}$/);
  expect(await accepted('seeded-party', 'esewa')).toEqual([first]);
  expect(await accepted('seeded-party', 'khalti')).toEqual([]);

  expect(await cli(['webhook:secret:create', '--tenant', 'seeded-party', '--provider', 'esewa'])).toMatchObject({
    code: 1, stdout: '', stderr: '--provider: seeded-party already has a webhook secret for esewa; use webhook:secret:rotate\n' });
  expect(await cli(['webhook:secret:rotate', '--tenant', 'seeded-party', '--provider', 'khalti'])).toMatchObject({
    code: 1, stdout: '', stderr: '--provider: seeded-party has no webhook secret for khalti; create one with webhook:secret:create\n' });
  expect((await cli(['webhook:secret:create', '--tenant', 'seeded-party', '--provider', 'manual'])).stderr).toMatch(/^--provider: manual is reserved/);
  expect((await cli(['webhook:secret:create', '--tenant', 'seeded-party', '--provider', 'E Sewa'])).stderr).toMatch(/^--provider: lower-case letters/);
  expect((await cli(['webhook:secret:rotate', '--tenant', 'seeded-party', '--provider', 'esewa', '--overlap', 'soon'])).stderr).toMatch(/^--overlap: a duration like/);
  expect(await cli(['webhook:secret:create', '--tenant', 'no-party', '--provider', 'esewa'])).toMatchObject({ code: 1, stderr: '--tenant: no party with slug "no-party"\n' });

  const rotated = await cli(['webhook:secret:rotate', '--tenant', 'seeded-party', '--provider', 'esewa', '--overlap', '2h']);
  expect(rotated.code).toBe(0);
  const second = rotated.stdout.trim();
  expect(second).toMatch(/^whsec_/);
  expect(second).not.toBe(first);
  expect(rotated.stderr).toMatch(/The previous secret is accepted until \S+Z/);
  // During the overlap both are accepted (newest first); past it, only the new one.
  expect(await accepted('seeded-party', 'esewa')).toEqual([second, first]);
  expect(await accepted('seeded-party', 'esewa', new Date(Date.now() + 3 * 3_600_000))).toEqual([second]);

  const listed = await cli(['webhook:secret:list', '--tenant', 'seeded-party']);
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n').filter((line) => line.startsWith('esewa'))).toEqual([
    expect.stringMatching(/^esewa +[0-9a-f-]{36} +\S+Z +accepted until \S+Z$/),
    expect.stringMatching(/^esewa +[0-9a-f-]{36} +\S+Z +current$/),
  ]);
  expect(listed.stdout + listed.stderr).not.toContain(first);
  expect(listed.stdout + listed.stderr).not.toContain(second);

  expect(await cli(['webhook:secret:end-overlap', '--tenant', 'seeded-party', '--provider', 'esewa'])).toMatchObject({
    code: 0, stdout: '1 previous secret of esewa for seeded-party no longer accepted\n' });
  expect(await accepted('seeded-party', 'esewa')).toEqual([second]);
  // Nor can the application role bring it back, or put its end later.
  for (const end of [sql.fragment`NULL`, sql.fragment`retires_at + interval '1 day'`]) {
    await expect(inTenant(seeded, (tx) => tx.query(sql.unsafe`
      UPDATE payment_webhook_secrets SET retires_at = ${end} WHERE provider = 'esewa' AND retires_at IS NOT NULL`))).rejects.toThrow(/can only come sooner/);
  }
  expect(await accepted('seeded-party', 'esewa')).toEqual([second]);

  // The audit trail has every change, with neither the secret nor its wrapped form.
  const Audit = z.object({ operation: z.string(), actor: z.string(), row: z.record(z.string(), z.unknown()) });
  const audits = await inTenant(seeded, (tx) => tx.any(sql.type(Audit)`
    SELECT operation, actor, coalesce(new_row, old_row) AS row FROM audit_log WHERE table_name = 'payment_webhook_secrets' ORDER BY id`));
  expect(audits.map((a) => a.operation)).toEqual(['INSERT', 'UPDATE', 'INSERT', 'UPDATE']);
  expect(new Set(audits.map((a) => a.actor))).toEqual(new Set([`cli:${os.userInfo().username}`]));
  for (const audit of audits) {
    expect(Object.keys(audit.row).sort()).toEqual(['created_at', 'id', 'provider', 'retires_at', 'tenant_id', 'wrapped_secret']);
    expect(audit.row.wrapped_secret).toBe('[redacted]');
  }

  // A wrapped secret opens only under its own party, provider and row.
  const Row = z.object({ id: z.string(), wrapped: z.instanceof(Buffer) });
  const row = await inTenant(seeded, (tx) => tx.one(sql.type(Row)`
    SELECT id, wrapped_secret AS wrapped FROM payment_webhook_secrets WHERE provider = 'esewa' AND retires_at IS NULL`));
  expect(keyring.unwrapSecret(row.wrapped, webhookSecretAad(seeded.id, 'esewa', row.id)).toString()).toBe(second);
  const other = await makeTenant(db.app, keyring, 'other-party', 'OP');
  for (const aad of [webhookSecretAad(other.id, 'esewa', row.id), webhookSecretAad(seeded.id, 'khalti', row.id), webhookSecretAad(seeded.id, 'esewa', randomUUID())]) {
    expect(() => keyring.unwrapSecret(row.wrapped, aad)).toThrow(/does not authenticate/);
  }
  // Copied into another party's table it signs nothing there.
  await inTenant(other, (tx) => tx.query(sql.unsafe`
    INSERT INTO payment_webhook_secrets (id, tenant_id, provider, wrapped_secret) VALUES (${randomUUID()}, ${other.id}, 'esewa', ${sql.binary(row.wrapped)})`));
  expect(await accepted('other-party', 'esewa')).toEqual([]);
});

test('two webhook secret creations for one party and provider racing: one secret, the other told it exists (no error)', async () => {
  const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
  const party = await makeTenant(db.app, keyring, 'racing-party', 'RP');
  let releaseFirst!: () => void;
  const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
  // The first inserts and holds its transaction open; the second checks (sees nothing committed), inserts, and waits on the index.
  const first = inTenant(party, async (tx) => {
    const issued = await createWebhookSecret(tx, keyring, party.id, 'khalti');
    await firstMayCommit;
    return issued;
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = inTenant(party, (tx) => createWebhookSecret(tx, keyring, party.id, 'khalti'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  releaseFirst();
  expect(await first).toMatchObject({ secret: expect.stringMatching(/^whsec_/) });
  expect(await second).toBeNull();
  expect(await inTenant(party, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM payment_webhook_secrets`))).toBe(1);
});

test('two rotations of one provider\'s secret at once: both rotate, one after the other (neither is told there is no secret)', async () => {
  const keyring = new Keyring(masterKeyFromBase64(MASTER_KEY));
  const party = await makeTenant(db.app, keyring, 'rotating-party', 'RT');
  await inTenant(party, (tx) => createWebhookSecret(tx, keyring, party.id, 'esewa'));
  let releaseFirst!: () => void;
  const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
  const first = inTenant(party, async (tx) => {
    const rotated = await rotateWebhookSecret(tx, keyring, party.id, 'esewa', 3_600_000);
    await firstMayCommit;
    return rotated;
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = inTenant(party, (tx) => rotateWebhookSecret(tx, keyring, party.id, 'esewa', 3_600_000));
  await new Promise((resolve) => setTimeout(resolve, 300));
  releaseFirst();
  const [a, b] = await Promise.all([first, second]);
  expect(a).toMatchObject({ secret: expect.stringMatching(/^whsec_/) });
  expect(b).toMatchObject({ secret: expect.stringMatching(/^whsec_/) });
  const rows = await inTenant(party, (tx) => tx.any(sql.type(z.object({ current: z.boolean() }))`SELECT retires_at IS NULL AS current FROM payment_webhook_secrets ORDER BY created_at`));
  expect(rows.map((r) => r.current)).toEqual([false, false, true]);
});
