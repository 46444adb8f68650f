import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { CatalogTable } from './table-catalog.ts';

// The FETCH below names the same count: FETCH takes no bind parameter.
const FETCH_SIZE = 2_000;
const RowText = z.object({ row: z.string() });

/**
 * Fixes every setting that shapes `to_jsonb` text (time zone, interval and date styles, float
 * digits), so the same rows give the same text, and checksums, in any session.
 */
export async function pinOutputSettings(tx: CommonQueryMethods): Promise<void> {
  await tx.query(sql.unsafe`
    SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
           set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true)`);
}

/** Binds the transaction to the tenant: forced row-level security applies to the owner role too. */
export async function enterSnapshotTenant(tx: CommonQueryMethods, tenantId: string): Promise<void> {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantId}, true), set_config('app.actor', 'backup', true)`);
}

function rowsOf(table: CatalogTable, tenantId: string) {
  const order = sql.join(table.orderBy.map((column) => sql.identifier([column])), sql.fragment`, `);
  const where = table.scope === 'shared' ? sql.fragment`TRUE`
    : table.scope === 'tenant-row' ? sql.fragment`t.id = ${tenantId}` : sql.fragment`t.tenant_id = ${tenantId}`;
  return sql.fragment`SELECT to_jsonb(t)::text AS row FROM ${sql.identifier([table.name])} t WHERE ${where} ORDER BY ${order}`;
}

/**
 * Every row of one table that belongs in the tenant's snapshot, as `to_jsonb` text in a stable
 * order, read through a cursor so a large table never sits in memory whole. Runs inside the
 * caller's transaction, with the tenant entered and output settings pinned.
 */
export async function* readTableRows(tx: CommonQueryMethods, table: CatalogTable, tenantId: string): AsyncGenerator<string> {
  await tx.query(sql.unsafe`DECLARE snapshot_rows NO SCROLL CURSOR FOR ${rowsOf(table, tenantId)}`);
  try {
    for (;;) {
      const batch = await tx.anyFirst(sql.type(RowText)`FETCH FORWARD 2000 FROM snapshot_rows`);
      for (const row of batch) yield row;
      if (batch.length < FETCH_SIZE) return;
    }
  } finally {
    await tx.query(sql.unsafe`CLOSE snapshot_rows`);
  }
}

/** The tenant's member-number sequence as it stands (sequences are not transactional: never behind a number in use). */
export async function readMemberNumberSequence(tx: CommonQueryMethods, tenantId: string): Promise<{ lastValue: string; isCalled: boolean }> {
  const name = await tx.oneFirst(sql.type(z.object({ name: z.string() }))`SELECT member_number_sequence_name(${tenantId}::uuid) AS name`);
  const state = await tx.one(sql.type(z.object({ lastValue: z.coerce.string(), isCalled: z.boolean() }))`
    SELECT last_value AS "lastValue", is_called AS "isCalled" FROM ${sql.identifier([name])}`);
  return state;
}

export async function appliedMigrations(tx: CommonQueryMethods): Promise<string[]> {
  return [...(await tx.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM schema_migrations ORDER BY name`))];
}
