import { randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { bootstrapDatabase } from '../../src/db/bootstrap.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { seedMiniGeography } from '../support/fixtures.ts';

/**
 * Migration 0026 over members who were active before it: each gets term 1. One admitted
 * through the lifecycle from its activation day, bought by its admission payment; one
 * imported from the import's day to its next registration anniversary, so nobody imported
 * years ago is lapsed by the migration.
 */
test('migrating to 0026 gives every active member a first term; applicants get none', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'migrations-0026-'));
  const urls = await bootstrapDatabase(process.env.TEST_PG_SUPERUSER_URL!, {
    database: `sadasya_test_terms_${randomBytes(4).toString('hex')}`,
    ownerPassword: process.env.TEST_PG_OWNER_PASSWORD!,
    appPassword: process.env.TEST_PG_APP_PASSWORD!,
  });
  const owner: DatabasePool = await createDatabasePool(urls.ownerUrl, { maximumPoolSize: 2 });
  const app: DatabasePool = await createDatabasePool(urls.appUrl, { maximumPoolSize: 2 });
  try {
    for (const name of (await readdir(MIGRATIONS_DIR)).filter((n) => n.endsWith('.sql') && n < '0026')) await copyFile(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
    await migrate(urls.ownerUrl, dir);
    const geo = await seedMiniGeography(owner);
    const tenant = randomUUID();
    const [admitted, imported, applicant, importId, invoice, payment] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await withTenant(app, { tenantId: tenant, actor: 'test' }, async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO tenants (id, slug, name, member_number_prefix) VALUES (${tenant}, 'old-party', 'Old Party', 'OLD')`);
      await tx.query(sql.unsafe`INSERT INTO member_imports (id, tenant_id, file_name, file_sha256, batch_size, total_rows, started_by)
        VALUES (${importId}, ${tenant}, 'm.csv', ${sql.binary(Buffer.alloc(32, 1))}, 10, 1, 'test')`);
      const member = (id: string, status: string, phone: number, times: { registered: string; activated: string | null; numbered: string | null }, fromImport: string | null) => tx.query(sql.unsafe`
        INSERT INTO members (id, tenant_id, status, ward_id, geography_path, full_name_en, gender, phone_enc, phone_bidx, member_number,
                             member_number_assigned_at, registered_at, activated_at, import_id)
        VALUES (${id}, ${tenant}, ${status}::member_status, ${geo.wardIds[0]!}, 'pt1.dt1.lt1.w1', 'Old Member', 'F', '\\x00', ${sql.binary(Buffer.from(String(phone)))},
                ${times.numbered ? `OLD-${phone}` : null}, ${times.numbered}::timestamptz, ${times.registered}::timestamptz, ${times.activated}::timestamptz, ${fromImport})`);
      await member(admitted, 'active', 1, { registered: '2026-05-01T04:00:00Z', activated: '2026-05-10T04:00:00Z', numbered: '2026-05-10T04:00:00Z' }, null);
      await member(imported, 'active', 2, { registered: '2015-03-01T00:00:00+05:45', activated: '2015-03-01T00:00:00+05:45', numbered: '2026-11-20T06:00:00Z' }, importId);
      await member(applicant, 'awaiting_approval', 3, { registered: '2026-11-01T04:00:00Z', activated: null, numbered: null }, null);
      await tx.query(sql.unsafe`INSERT INTO invoices (id, tenant_id, member_id, idempotency_key, amount_minor, currency, due_at, status, paid_at)
        VALUES (${invoice}, ${tenant}, ${admitted}, 'inv', 10000, 'NPR', now(), 'paid', now())`);
      await tx.query(sql.unsafe`INSERT INTO payments (id, tenant_id, invoice_id, member_id, amount_minor, currency, provider, provider_ref, paid_at)
        VALUES (${payment}, ${tenant}, ${invoice}, ${admitted}, 10000, 'NPR', 'esewa', 'ref', '2026-05-09T04:00:00Z')`);
    });
    await copyFile(path.join(MIGRATIONS_DIR, '0026_terms_and_dues.sql'), path.join(dir, '0026_terms_and_dues.sql'));
    expect((await migrate(urls.ownerUrl, dir)).applied).toEqual(['0026_terms_and_dues.sql']);
    const Term = z.object({ memberId: z.string(), startsOn: z.string(), endsOn: z.string(), paymentId: z.string().nullable(), source: z.string() });
    const terms = await withTenant(app, { tenantId: tenant, actor: 'test' }, (tx) => tx.any(sql.type(Term)`
      SELECT member_id AS "memberId", to_char(starts_on, 'YYYY-MM-DD') AS "startsOn", to_char(ends_on, 'YYYY-MM-DD') AS "endsOn", payment_id AS "paymentId", source
      FROM member_terms ORDER BY starts_on`));
    expect(terms).toEqual([
      { memberId: admitted, startsOn: '2026-05-10', endsOn: '2027-05-10', paymentId: payment, source: 'admission' },
      { memberId: imported, startsOn: '2026-11-20', endsOn: '2027-03-01', paymentId: null, source: 'backfill' },
    ]);
    // A payment recorded before 0026 has no allocations: the split applies from the migration on.
    expect(await withTenant(app, { tenantId: tenant, actor: 'test' }, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM dues_allocations`))).toBe(0);
  } finally {
    await Promise.all([app.end(), owner.end()]);
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
