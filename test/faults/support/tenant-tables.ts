import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { APP_ROLE } from '../../../src/db/bootstrap.ts';

/** A relation with a tenant_id column, and how the schema guards it. */
export interface TenantRelation {
  name: string;
  kind: 'table' | 'view';
  /** The application role may SELECT from it. */
  readable: boolean;
  /** Row-level security enabled and forced, with a policy on app_current_tenant(). */
  isolated: boolean;
}

const Relation = z.object({ name: z.string(), kind: z.enum(['table', 'view']), readable: z.boolean(), isolated: z.boolean() });

/** Every table and view with a tenant_id column, from the catalog: a new one is probed without editing the test. */
export async function tenantRelations(owner: DatabasePool): Promise<TenantRelation[]> {
  return [...await owner.any(sql.type(Relation)`
    SELECT c.relname AS name, CASE WHEN c.relkind = 'v' THEN 'view' ELSE 'table' END AS kind,
           has_table_privilege(${APP_ROLE}, c.oid, 'SELECT') AS readable,
           c.relrowsecurity AND c.relforcerowsecurity
             AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname AND p.qual LIKE '%app_current_tenant()%') AS isolated
    FROM information_schema.columns col
    JOIN pg_class c ON c.relname = col.table_name AND c.relnamespace = 'public'::regnamespace
    WHERE col.table_schema = 'public' AND col.column_name = 'tenant_id' AND c.relkind IN ('r', 'p', 'v', 'm')
    ORDER BY c.relname`)];
}

const UuidColumn = z.object({ table: z.string(), column: z.string() });
/** Columns that point at landlord data every party shares (geography), not at a party's own rows. */
const SHARED = new Set(['tenant_id', 'ward_id', 'geography_id', 'parent_id', 'from_ward_id', 'to_ward_id']);

/**
 * Every uuid a party's rows hold (ids, member, invoice, card token and user references), read
 * as the owner inside the party's transaction.
 */
export async function idsOfTenant(owner: DatabasePool, tenantId: string): Promise<string[]> {
  const columns = await owner.any(sql.type(UuidColumn)`
    SELECT c.table_name AS "table", c.column_name AS "column" FROM information_schema.columns c
    JOIN information_schema.columns t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.column_name = 'tenant_id'
    JOIN information_schema.tables r ON r.table_schema = c.table_schema AND r.table_name = c.table_name AND r.table_type = 'BASE TABLE'
    WHERE c.table_schema = 'public' AND c.data_type = 'uuid' ORDER BY 1, 2`);
  const ids = new Set<string>();
  await owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantId}, true)`);
    for (const { table, column } of columns.filter((c) => !SHARED.has(c.column))) {
      const values = await tx.anyFirst(sql.type(z.object({ v: z.string() }))`
        SELECT DISTINCT ${sql.identifier([column])}::text AS v FROM ${sql.identifier([table])} WHERE tenant_id = ${tenantId} AND ${sql.identifier([column])} IS NOT NULL`);
      for (const value of values) ids.add(value);
    }
  });
  return [...ids].sort();
}
