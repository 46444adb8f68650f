import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { anchorChain } from '../../src/events/chain-anchors.ts';
import { appendToStream } from '../../src/events/event-store.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { insertApplicant } from '../../src/members/member-repository.ts';
import { recordRefusal } from '../../src/members/registration-refusals.ts';
import { recordConsent } from '../../src/members/eligibility.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { createWebhookSecret } from '../../src/payments/webhook-secrets.ts';
import { setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { insertAttempt } from '../../src/payments/payment-attempts.ts';
import { addReconciliationItem } from '../../src/payments/reconciliation.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import { recordLifecycleStart } from '../../src/members/lifecycle-starts.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeCommittee, makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

let db: TestDatabase;
let keyring: Keyring;
let geo: MiniGeography;
let tenantA: Tenant;
let tenantB: Tenant;

async function seedEverything(tenant: Tenant, phone: string): Promise<void> {
  const committeeId = await makeCommittee(db.app, tenant.id, geo.localLevelId);
  await withTenant(db.app, { tenantId: tenant.id, actor: 'seed' }, async (tx) => {
    const keys = await keyring.forTenant(tx, tenant.id);
    const user = await createUser(tx, tenant.id, { email: `head@${tenant.slug}.np`, displayName: 'Head', password: 'correct horse battery', roles: ['treasurer'] });
    await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenant.id}, ${committeeId}, ${user.id}, 'head')`);
    const memberId = randomUUID();
    const application = ApplicationSchema.parse({ fullNameEn: 'Ram Thapa', gender: 'M', phone, email: `ram@${tenant.slug}.np`, wardId: geo.wardIds[0] });
    await insertApplicant(tx, sealApplication(keys, memberId, application, 'token'), `wf-${memberId}`);
    const refusedId = randomUUID();
    await recordRefusal(tx, { application: sealApplication(keys, refusedId, application, 'token'), workflowId: `wf-${refusedId}`, contact: 'phone', holderId: memberId, committeeId, refusedAt: new Date().toISOString() });
    await recordConsent(tx, tenant.id, memberId, ELIGIBLE.consent, new Date());
    const invoiceId = await tx.oneFirst(sql.type(z.object({ id: z.string() }))`
      INSERT INTO invoices (tenant_id, member_id, idempotency_key, amount_minor, currency, due_at)
      VALUES (${tenant.id}, ${memberId}, ${`inv-${memberId}`}, 10000, 'NPR', now() + interval '1 day') RETURNING id`);
    await tx.query(sql.unsafe`INSERT INTO payments (tenant_id, invoice_id, member_id, amount_minor, currency, provider, provider_ref, paid_at)
      VALUES (${tenant.id}, ${invoiceId}, ${memberId}, 10000, 'NPR', 'esewa', ${`ref-${memberId}`}, now())`);
    await tx.query(sql.unsafe`INSERT INTO member_terms (tenant_id, member_id, term_number, starts_on, ends_on, waived, source, idempotency_key)
      VALUES (${tenant.id}, ${memberId}, 1, current_date, current_date + 365, true, 'waiver', ${`term-${memberId}`})`);
    await tx.query(sql.unsafe`INSERT INTO member_renewals (tenant_id, member_id, term_number, workflow_id, paid_until, started_by, invoice_id)
      VALUES (${tenant.id}, ${memberId}, 1, ${`renewal-${tenant.id}-${memberId}-1`}, current_date + 365, 'seed', ${invoiceId})`);
    await tx.query(sql.unsafe`INSERT INTO renewal_runs (tenant_id, run_on, started_at, finished_at, due, started, already_started)
      VALUES (${tenant.id}, current_date, now(), now(), 1, 1, 0)`);
    await tx.query(sql.unsafe`INSERT INTO id_cards (tenant_id, member_id, member_number, storage_key, sha256, token_id, valid_until)
      VALUES (${tenant.id}, ${memberId}, 'X-1', 'k', '\\x00', ${randomUUID()}, '2030-01-01')`);
    await tx.query(sql.unsafe`INSERT INTO member_imports (tenant_id, file_name, file_sha256, batch_size, total_rows, started_by)
      VALUES (${tenant.id}, 'members.csv', ${sql.binary(Buffer.alloc(32, 7))}, 2000, 0, 'test')`);
    await tx.query(sql.unsafe`INSERT INTO mail_deliveries (tenant_id, member_id, idempotency_key, kind, message_id) VALUES (${tenant.id}, ${memberId}, ${`mail-${memberId}`}, 'approved', '<x@test>')`);
    await createWebhookSecret(tx, keyring, tenant.id, 'esewa');
    await tx.query(sql.unsafe`INSERT INTO member_transfers (id, tenant_id, member_id, seq, from_ward_id, to_ward_id, requested_via, requested_by, decides_at, workflow_id)
      VALUES (${randomUUID()}, ${tenant.id}, ${memberId}, 1, ${geo.wardIds[0]!}, ${geo.wardIds[1]!}, 'staff', 'seed', now() + interval '30 days', ${`transfer-${memberId}-1`})`);
    await setGatewayAccount(tx, keyring, tenant.id, { gateway: 'khalti', environment: 'sandbox', secret: `live_secret_key_${tenant.slug}` });
    const attemptId = randomUUID();
    await insertAttempt(tx, { id: attemptId, tenantId: tenant.id, memberId, invoiceId, gateway: 'esewa', amountMinor: 10000, currency: 'NPR',
      reference: attemptId, workflowId: `payment-${tenant.id}-${attemptId}`, expiresAt: new Date(Date.now() + 3_600_000) });
    await addReconciliationItem(tx, { tenantId: tenant.id, gateway: 'esewa', reference: attemptId, attemptId, memberId, amountMinor: 10000, currency: 'NPR',
      reason: 'paid_twice', detail: 'seed' });
    await tx.query(sql.unsafe`INSERT INTO payment_reconciliation_runs (tenant_id, day, gateway, attempts, differences, unreachable)
      VALUES (${tenant.id}, current_date, 'esewa', 1, 1, 0)`);
    await appendToStream(tx, { tenantId: tenant.id, aggregateType: 'Member', aggregateId: memberId, expectedVersion: 0, events: [{ type: 'MemberRegistered', payload: { wardId: geo.wardIds[0] } }], metadata: { actor: 'seed' } });
    await anchorChain(tx, tenant.id, keyring, () => new Date(), 'periodic');
    await recordLifecycleStart(tx, { tenantId: tenant.id, memberId, workflowId: `member-${tenant.id}-${memberId}`, wardId: geo.wardIds[0]!,
      recorded: { geographyPath: 'np', committeeId: null, registeredAt: new Date().toISOString() } });
  });
}

/** Re-inserts a row as it is (new id); the event store and audit log through their own columns. */
async function insertCopy(tx: TenantTransaction, table: string, row: Record<string, unknown>) {
  if (table === 'event_store') {
    return tx.query(sql.unsafe`INSERT INTO event_store (tenant_id, aggregate_type, aggregate_id, version, event_type, payload)
      VALUES (${String(row.tenant_id)}, 'Member', ${randomUUID()}, 1, 'MemberRegistered', '{}')`);
  }
  if (table === 'member_statistics') {
    return tx.query(sql.unsafe`INSERT INTO member_statistics (tenant_id, geography_id, status, member_count) VALUES (${String(row.tenant_id)}, ${String(row.geography_id)}, 'active', 1)`);
  }
  if (table === 'event_chain_anchors') {
    return tx.query(sql.unsafe`INSERT INTO event_chain_anchors (tenant_id, chain_seq, hash, anchored_at, reason, master_key_id, mac)
      VALUES (${String(row.tenant_id)}, 0, '\\x', now(), 'periodic', ${randomUUID()}, ${sql.binary(Buffer.alloc(32))})`);
  }
  if (table === 'audit_log') {
    return tx.query(sql.unsafe`INSERT INTO audit_log (tenant_id, table_name, operation) VALUES (${String(row.tenant_id)}, 'members', 'INSERT')`);
  }
  const copy = { ...row, ...(typeof row.id === 'string' ? { id: randomUUID() } : {}), ...(table === 'lifecycle_starts' ? { member_id: randomUUID() } : {}) };
  // Every column but the generated ones, which Postgres computes itself.
  const columns = (await tx.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT attname AS name FROM pg_attribute
    WHERE attrelid = ${table}::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
    ORDER BY attnum`)).map((name) => sql.identifier([name]));
  return tx.query(sql.unsafe`INSERT INTO ${sql.identifier([table])} (${sql.join(columns, sql.fragment`, `)})
    SELECT ${sql.join(columns, sql.fragment`, `)} FROM jsonb_populate_record(NULL::${sql.identifier([table])}, ${sql.jsonb(copy as never)})`);
}

/**
 * Every table with a tenant_id column: a new table that forgets its policy fails here. The
 * partitions of a partitioned table are probed through it (and on their own below).
 */
async function tenantTables(): Promise<string[]> {
  const rows = await db.owner.anyFirst(sql.type(z.object({ t: z.string() }))`
    SELECT table_name AS t FROM information_schema.columns col
    JOIN pg_class c ON c.relname = col.table_name AND c.relnamespace = 'public'::regnamespace
    WHERE table_schema = 'public' AND column_name = 'tenant_id' AND NOT c.relispartition ORDER BY table_name`);
  return [...rows];
}

test('every partition of a tenant table forces row-level security and grants the application role nothing', async () => {
  const partitions = await db.owner.any(sql.type(z.object({ name: z.string(), forced: z.boolean(), policies: z.number(), granted: z.boolean() }))`
    SELECT c.relname AS name, c.relrowsecurity AND c.relforcerowsecurity AS forced,
           (SELECT count(*)::int FROM pg_policies p WHERE p.tablename = c.relname AND p.qual LIKE '%app_current_tenant()%') AS policies,
           has_table_privilege('sadasya_app', c.oid, 'SELECT') OR has_table_privilege('sadasya_app', c.oid, 'INSERT') AS granted
    FROM pg_class c WHERE c.relispartition AND c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'`);
  expect(partitions.length).toBeGreaterThan(12);
  expect(partitions.filter((p) => !p.forced || p.policies !== 1 || p.granted)).toEqual([]);
  const month = partitions[0]!.name;
  await expect(withTenant(db.app, { tenantId: tenantA.id, actor: 'probe' }, (tx) => tx.query(sql.unsafe`SELECT * FROM ${sql.identifier([month])}`))).rejects.toThrow(/permission denied/);
});

beforeAll(async () => {
  db = await createTestDatabase();
  keyring = new Keyring(testMasterKey());
  geo = await seedMiniGeography(db.owner);
  tenantA = await makeTenant(db.app, keyring, 'party-a', 'PA');
  tenantB = await makeTenant(db.app, keyring, 'party-b', 'PB');
  await seedEverything(tenantA, '9841000001');
  await seedEverything(tenantB, '9841000002');
});
afterAll(() => db.close());

const count = (table: string, tenantId?: string) => {
  const query = sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([table])}`;
  return tenantId ? withTenant(db.app, { tenantId, actor: 'probe' }, (tx) => tx.oneFirst(query)) : db.app.oneFirst(query);
};

test('the application role is no superuser, bypasses no policy and owns nothing', async () => {
  const role = await db.app.one(sql.type(z.object({ rolsuper: z.boolean(), rolbypassrls: z.boolean(), owned: z.number() }))`
    SELECT rolsuper, rolbypassrls, (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned
    FROM pg_roles r WHERE rolname = current_user`);
  expect(role).toEqual({ rolsuper: false, rolbypassrls: false, owned: 0 });
});

test('every tenant table forces row-level security', async () => {
  const tables = await tenantTables();
  expect(tables.length).toBeGreaterThanOrEqual(12);
  const unforced = await db.owner.anyFirst(sql.type(z.object({ t: z.string() }))`
    SELECT relname AS t FROM pg_class WHERE relname = ANY(${sql.array(tables.filter((t) => t !== 'event_chain_heads'), 'text')})
    AND NOT (relrowsecurity AND relforcerowsecurity)`);
  expect(unforced).toEqual([]);
});

const Privileges = z.object({ updatable: z.array(z.string()), deletable: z.boolean() });

/** The columns the application role may UPDATE (generated and identity columns aside), and whether it may DELETE. */
const privilegesOn = (table: string) => db.app.one(sql.type(Privileges)`
  SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE has_column_privilege(current_user, a.attrelid, a.attnum, 'UPDATE')), '{}') AS updatable,
         has_table_privilege(current_user, ${table}::regclass, 'DELETE') AS deletable
  FROM pg_attribute a
  WHERE a.attrelid = ${table}::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity = ''`);

const ISOLATED_TABLES = ['application_consents', 'audit_log', 'committee_roles', 'committees', 'dues_allocations', 'dues_daily', 'event_chain_anchors', 'event_counts', 'event_store', 'id_cards', 'invoices', 'lifecycle_starts', 'mail_deliveries', 'member_imports', 'member_renewals', 'member_statistics', 'member_status_changes', 'member_status_daily', 'member_terms', 'member_transfers', 'members', 'payment_attempts', 'payment_gateway_accounts', 'payment_reconciliation_items', 'payment_reconciliation_runs', 'payment_webhook_secrets', 'payments', 'registration_refusals', 'renewal_runs', 'tenant_keys', 'user_roles', 'users'];
/** Tables the application role may not write at all: rows come from triggers or the database's own functions. */
const WRITTEN_BY_THE_DATABASE = ['audit_log', 'event_counts', 'member_statistics', 'dues_allocations', 'dues_daily', 'member_status_changes', 'member_status_daily'];

test('the probes below cover every tenant table (a new table must join them)', async () => {
  expect([...ISOLATED_TABLES].sort()).toEqual((await tenantTables()).filter((t) => t !== 'event_chain_heads'));
});

describe.each(ISOLATED_TABLES)(
  '%s',
  (table) => {
    test('with no tenant set, a query returns 0 rows', async () => {
      expect(await count(table)).toBe(0);
    });

    test('each tenant sees only its own rows, and both have some', async () => {
      const [a, b] = [await count(table, tenantA.id), await count(table, tenantB.id)];
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(0);
      const foreign = await withTenant(db.app, { tenantId: tenantB.id, actor: 'probe' }, (tx) =>
        tx.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE tenant_id <> ${tenantB.id}`));
      expect(foreign).toBe(0);
    });

    test("an insert carrying another tenant's id is rejected", async () => {
      const before = await count(table, tenantB.id);
      const row = await withTenant(db.app, { tenantId: tenantA.id, actor: 'probe' }, (tx) =>
        tx.oneFirst(sql.type(z.object({ r: z.record(z.string(), z.unknown()) }))`
          SELECT to_jsonb(t) AS r FROM ${sql.identifier([table])} t LIMIT 1`));
      const attempt = withTenant(db.app, { tenantId: tenantB.id, actor: 'probe' }, (tx) => insertCopy(tx, table, row));
      await expect(attempt).rejects.toThrow(WRITTEN_BY_THE_DATABASE.includes(table) ? /permission denied/ : /row-level security/);
      expect(await count(table, tenantB.id)).toBe(before);
    });

    test("tenant B changes and deletes none of tenant A's rows", async () => {
      const before = await count(table, tenantA.id);
      const { updatable, deletable } = await privilegesOn(table);
      // Nothing is ever deleted from a tenant table: rows are voided, revoked, ended or rolled back by the owner.
      expect(deletable).toBe(false);
      const target = sql.identifier([table]);
      const asTenantB = <T>(work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenantB.id, actor: 'probe' }, work);
      await expect(asTenantB((tx) => tx.query(sql.unsafe`DELETE FROM ${target} WHERE tenant_id = ${tenantA.id}`))).rejects.toThrow(/permission denied/);
      const column = updatable[0];
      if (column === undefined) {
        // No column is the application role's to write: the grant refuses before row-level security is asked.
        await expect(asTenantB((tx) => tx.query(sql.unsafe`UPDATE ${target} SET tenant_id = tenant_id WHERE tenant_id = ${tenantA.id}`))).rejects.toThrow(/permission denied/);
      } else {
        const changed = await asTenantB((tx) => tx.query(sql.unsafe`
          UPDATE ${target} SET ${sql.identifier([column])} = ${sql.identifier([column])} WHERE tenant_id = ${tenantA.id}`));
        expect({ column, rows: changed.rowCount }).toEqual({ column, rows: 0 });
      }
      expect(await count(table, tenantA.id)).toBe(before);
    });
  },
);

test('the chain heads are out of the application role\'s reach', async () => {
  await expect(db.app.query(sql.unsafe`SELECT * FROM event_chain_heads`)).rejects.toThrow(/permission denied/);
});

test('member numbers cannot be drawn without a tenant', async () => {
  await expect(db.app.query(sql.unsafe`SELECT next_member_number()`)).rejects.toThrow(/no tenant set/);
});
