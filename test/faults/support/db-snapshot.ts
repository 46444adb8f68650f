import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

/** `table@tenant` (or `table@-` without a tenant) → "rows:md5", plus `sequence:name` → last value. */
export type Snapshot = Record<string, string>;

const Digest = z.object({ n: z.number(), sum: z.string() });

/**
 * Row counts and checksums of every table in the schema, read as the owner role. Tables under
 * forced row-level security are read once per tenant (the owner sees nothing without one);
 * sequences are included, so even a write that rolled back shows.
 */
export async function snapshotDatabase(owner: DatabasePool): Promise<Snapshot> {
  const tables = await owner.anyFirst(sql.type(z.object({ t: z.string() }))`
    SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
  const tenants = await owner.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM tenants ORDER BY id`);
  const snapshot: Snapshot = {};
  for (const tenant of [null, ...tenants]) {
    await owner.transaction(async (tx) => {
      if (tenant) await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenant}, true)`);
      for (const table of tables) {
        const { n, sum } = await tx.one(sql.type(Digest)`
          SELECT count(*)::int AS n, md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) AS sum FROM ${sql.identifier([table])} r`);
        snapshot[`${table}@${tenant ?? '-'}`] = `${n}:${sum}`;
      }
    });
  }
  const sequences = await owner.any(sql.type(z.object({ name: z.string(), value: z.string().nullable() }))`
    SELECT sequencename AS name, last_value::text AS value FROM pg_sequences WHERE schemaname = 'public'`);
  for (const { name, value } of sequences) snapshot[`sequence:${name}`] = value ?? 'unused';
  return snapshot;
}

/** The keys whose value differs, with before → after; empty when nothing changed. */
export function snapshotChanges(before: Snapshot, after: Snapshot): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((key) => before[key] !== after[key]).map((key) => `${key}: ${before[key] ?? 'absent'} → ${after[key] ?? 'absent'}`);
}
