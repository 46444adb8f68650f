import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

/** How a table's rows belong to a snapshot of one tenant. */
export type TableScope = 'tenant-row' | 'tenant' | 'shared';

export interface CatalogTable {
  name: string;
  scope: TableScope;
  /** Columns written on restore: every stored column except generated ones. */
  columns: string[];
  /** Identity columns, whose sequences a restore moves past the restored values. */
  identityColumns: string[];
  primaryKey: string[];
  /** The ORDER BY of its rows, so a table's checksum does not depend on physical order. */
  orderBy: string[];
}

/** Landlord data every tenant's rows point at; restored only where missing. */
const SHARED_TABLES = new Set(['geography_nodes', 'geography_closure']);
/**
 * Bookkeeping of the schema and the cluster: recreated by `npm run migrate`, never part of a
 * snapshot (the event chain's cache secret is each database's own; the event-to-status mapping
 * of migrations/0025 is the schema's).
 */
const SCHEMA_TABLES = new Set(['schema_migrations', 'event_chain_secret', 'member_status_effects']);
/** Parents before children where a table refers to itself (a node's parent has a shorter path). */
const ORDER_OVERRIDES: Record<string, string[]> = { geography_nodes: ['path', 'id'] };

export class UncoveredTableError extends DomainError {
  override readonly name = 'UncoveredTableError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('TABLE_NOT_COVERED', message, options);
  }
}

const ColumnRow = z.object({ table: z.string(), column: z.string(), generated: z.boolean(), identity: z.boolean(), pk: z.number().nullable() });
const ForeignKey = z.object({ child: z.string(), parent: z.string() });

/**
 * Every table of the public schema, in an order that inserts parents before children (foreign
 * keys), each with its scope in a tenant snapshot. A table that is neither the tenants table,
 * nor has a tenant_id column, nor is known shared data makes it refuse: a snapshot would miss it.
 * @throws UncoveredTableError naming such a table.
 */
export async function readCatalog(db: CommonQueryMethods): Promise<CatalogTable[]> {
  const columns = await db.any(sql.type(ColumnRow)`
    SELECT c.relname AS "table", a.attname AS "column", a.attgenerated <> '' AS generated, a.attidentity <> '' AS identity,
           (SELECT k.n::int FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum) AS pk
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY c.relname, a.attnum`);
  const foreignKeys = await db.any(sql.type(ForeignKey)`
    SELECT child.relname AS child, parent.relname AS parent
    FROM pg_constraint k JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid
    JOIN pg_namespace n ON n.oid = child.relnamespace AND n.nspname = 'public'
    WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`);
  const tables = new Map<string, CatalogTable>();
  for (const row of columns) {
    if (SCHEMA_TABLES.has(row.table)) continue;
    const table = tables.get(row.table) ?? { name: row.table, scope: 'shared', columns: [], identityColumns: [], primaryKey: [], orderBy: [] };
    if (!row.generated) table.columns.push(row.column);
    if (row.identity) table.identityColumns.push(row.column);
    if (row.pk !== null) table.primaryKey[row.pk - 1] = row.column;
    tables.set(row.table, table);
  }
  for (const table of tables.values()) {
    table.scope = scopeOf(table);
    table.orderBy = ORDER_OVERRIDES[table.name] ?? (table.primaryKey.length > 0 ? table.primaryKey : table.columns);
  }
  return parentsFirst([...tables.values()], foreignKeys);
}

function scopeOf(table: CatalogTable): TableScope {
  if (table.name === 'tenants') return 'tenant-row';
  if (table.columns.includes('tenant_id')) return 'tenant';
  if (SHARED_TABLES.has(table.name)) return 'shared';
  throw new UncoveredTableError(`table ${table.name} has no tenant_id and is not known shared data: a tenant snapshot would miss it`);
}

/** Kahn's algorithm over the foreign keys, alphabetical among equals so the order is stable. */
function parentsFirst(tables: CatalogTable[], foreignKeys: readonly z.infer<typeof ForeignKey>[]): CatalogTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const parents = new Map(tables.map((t) => [t.name, new Set(foreignKeys.filter((k) => k.child === t.name && byName.has(k.parent)).map((k) => k.parent))]));
  const ordered: CatalogTable[] = [];
  while (parents.size > 0) {
    const ready = [...parents].filter(([, of]) => of.size === 0).map(([name]) => name).sort();
    if (ready.length === 0) throw new Error(`foreign keys form a cycle among ${[...parents.keys()].join(', ')}`);
    for (const name of ready) {
      ordered.push(byName.get(name)!);
      parents.delete(name);
      for (const of of parents.values()) of.delete(name);
    }
  }
  return ordered;
}
