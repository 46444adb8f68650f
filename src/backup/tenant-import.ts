import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { snapshotLines, verifySnapshotFile } from './snapshot-file.ts';
import { differingTables, SnapshotFormatError, type SnapshotHeader, type SnapshotManifest } from './snapshot-format.ts';
import { appliedMigrations, enterSnapshotTenant, pinOutputSettings } from './snapshot-reader.ts';
import { readCatalog, type CatalogTable } from './table-catalog.ts';
import { tableChecksums } from './tenant-export.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

/** The target cannot take this snapshot as it is (another schema version, or the tenant is there already). */
export class RestoreRefusedError extends DomainError {
  override readonly name = 'RestoreRefusedError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('RESTORE_REFUSED', message, options);
  }
}

export interface ImportResult {
  tenant: { id: string; slug: string };
  tables: SnapshotManifest['tables'];
  eventsVerified: number;
}

const BATCH_ROWS = 1_000;
const id = (name: string) => sql.identifier([name]);
const list = (names: readonly string[]) => sql.join(names.map(id), sql.fragment`, `);
const staging = (table: string) => id(`restore_${table}`);

/**
 * Restores a snapshot written by exportTenant into a database migrated to the same version that
 * does not hold the tenant: one transaction as the owner role. Rows keep their ids; event_store
 * keeps position, chain_seq, prev_hash and hash, and audit_log its rows, because the tables'
 * triggers (hash chain, audit) are disabled for the transaction. Shared geography is added where
 * missing and must otherwise be identical. Before committing it re-reads every table and compares
 * checksums with the manifest, and walks the event chain.
 *
 * Nothing is written unless the file's MAC verifies under `macKey` (see snapshotMacKey): only
 * whoever holds the master key can make a snapshot this restores. Even then every row must
 * belong to the snapshot's party: a row of another party (or a second `tenants` row) is refused.
 * @throws SnapshotFormatError for a damaged, unsigned or forged file, or a row of another party;
 * RestoreRefusedError when the target cannot take it.
 */
export async function importTenant(owner: DatabasePool, file: string, macKey: Buffer, expected?: { slug: string; bodySha256: string }): Promise<ImportResult> {
  const { header, manifest } = await verifySnapshotFile(file, macKey);
  if (expected && (expected.slug !== header.tenant.slug || expected.bodySha256 !== manifest.bodySha256)) {
    throw new SnapshotFormatError(`${file} is not the snapshot of ${expected.slug} its backup lists`);
  }
  const tenantId = header.tenant.id;
  return owner.transaction(async (tx) => {
    await pinOutputSettings(tx);
    await refuseUnlessCompatible(tx, header);
    await enterSnapshotTenant(tx, tenantId);
    const tables = await readCatalog(tx);
    const withTriggersOff = tables.filter((t) => t.scope === 'tenant');
    for (const table of withTriggersOff) await tx.query(sql.unsafe`ALTER TABLE ${id(table.name)} DISABLE TRIGGER USER`);
    // The party's own row keeps the trigger that creates its member-number sequence, but not its
    // audit trigger: the snapshot's audit_log already holds the rows it wrote.
    await tx.query(sql.unsafe`ALTER TABLE tenants DISABLE TRIGGER audit`);
    await loadRows(tx, file, new Map(tables.map((t) => [t.name, t])), tenantId);
    await tx.query(sql.unsafe`ALTER TABLE tenants ENABLE TRIGGER audit`);
    for (const table of withTriggersOff) await tx.query(sql.unsafe`ALTER TABLE ${id(table.name)} ENABLE TRIGGER USER`);
    await tx.query(sql.unsafe`SELECT setval(member_number_sequence_name(${tenantId}::uuid)::regclass,
      ${manifest.memberNumberSequence.lastValue}::bigint, ${manifest.memberNumberSequence.isCalled})`);
    for (const table of tables) await moveIdentitiesPast(tx, table);

    const differing = differingTables(manifest.tables, await tableChecksums(tx, tables, tenantId));
    if (differing.length > 0) throw new SnapshotFormatError(`restored rows differ from the snapshot in ${differing.join(', ')}`);
    const chain = await tx.one(sql.type(z.object({ broken: z.coerce.string().nullable(), checked: z.coerce.number() }))`
      SELECT first_broken_position AS broken, checked FROM verify_event_chain(${tenantId}::uuid)`);
    if (chain.broken !== null) throw new SnapshotFormatError(`the restored event chain breaks at position ${chain.broken}`);
    return { tenant: header.tenant, tables: manifest.tables, eventsVerified: chain.checked };
  });
}

async function refuseUnlessCompatible(tx: CommonQueryMethods, header: SnapshotHeader): Promise<void> {
  const migrations = await appliedMigrations(tx);
  if (migrations.join('\n') !== header.migrations.join('\n')) {
    throw new RestoreRefusedError(`the snapshot was taken at schema ${header.migrations.at(-1) ?? '(none)'}, this database is at ${migrations.at(-1) ?? '(none)'}: `
      + 'restore into a database migrated with the same migrations, then migrate it');
  }
  const existing = await tx.exists(sql.unsafe`SELECT 1 FROM tenants WHERE id = ${header.tenant.id} OR slug = ${header.tenant.slug}`);
  if (existing) throw new RestoreRefusedError(`this database already has party ${header.tenant.slug} (or its id ${header.tenant.id})`);
}

/**
 * Stages each table's rows in a temporary table, then inserts them in one statement (a table
 * that refers to itself then needs no particular row order). Shared rows already there are kept,
 * and must equal the snapshot's.
 */
async function loadRows(tx: CommonQueryMethods, file: string, catalog: ReadonlyMap<string, CatalogTable>, tenantId: string): Promise<void> {
  let current: CatalogTable | undefined;
  let batch: string[] = [];
  const flush = async () => {
    if (current && batch.length > 0) {
      await tx.query(sql.unsafe`INSERT INTO ${staging(current.name)} (${list(current.columns)})
        SELECT ${list(current.columns)} FROM jsonb_populate_recordset(NULL::${id(current.name)}, ${`[${batch.join(',')}]`}::jsonb)`);
    }
    batch = [];
  };
  for await (const line of snapshotLines(file)) {
    if (line.kind !== 'row') continue;
    if (line.table !== current?.name) {
      await flush();
      if (current) await insertStaged(tx, current, tenantId);
      current = catalog.get(line.table);
      if (!current) throw new RestoreRefusedError(`the snapshot has rows of ${line.table}, which this database lacks`);
      await tx.query(sql.unsafe`CREATE TEMPORARY TABLE ${staging(current.name)} (LIKE ${id(current.name)}) ON COMMIT DROP`);
    }
    batch.push(line.row);
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
  if (current) await insertStaged(tx, current, tenantId);
}

/**
 * A party's snapshot holds its own rows only: its `tenants` row and rows whose tenant_id is its
 * id. Checked on the staged rows before they reach the table, because row-level security would
 * not catch them all (`tenants` and `event_chain_heads` have no policy).
 * @throws SnapshotFormatError naming the table and the count of rows of another party.
 */
async function refuseOtherTenants(tx: CommonQueryMethods, table: CatalogTable, tenantId: string): Promise<void> {
  if (table.scope === 'shared') return;
  const column = table.scope === 'tenant-row' ? 'id' : 'tenant_id';
  const foreign = await tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM ${staging(table.name)} WHERE ${id(column)} IS DISTINCT FROM ${tenantId}::uuid`);
  if (foreign > 0) {
    throw new SnapshotFormatError(`the snapshot of party ${tenantId} holds ${foreign} rows of ${table.name} that belong to another party: refused`);
  }
}

async function insertStaged(tx: CommonQueryMethods, table: CatalogTable, tenantId: string): Promise<void> {
  await refuseOtherTenants(tx, table, tenantId);
  const overriding = table.identityColumns.length > 0 ? sql.fragment`OVERRIDING SYSTEM VALUE` : sql.fragment``;
  const onConflict = table.scope === 'shared' ? sql.fragment`ON CONFLICT DO NOTHING` : sql.fragment``;
  await tx.query(sql.unsafe`INSERT INTO ${id(table.name)} (${list(table.columns)}) ${overriding}
    SELECT ${list(table.columns)} FROM ${staging(table.name)} ${onConflict}`);
  if (table.scope === 'shared') {
    const keyOf = (alias: string) => sql.join(table.primaryKey.map((c) => sql.identifier([alias, c])), sql.fragment`, `);
    const conflicting = await tx.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM ${staging(table.name)} s
      WHERE NOT EXISTS (SELECT 1 FROM ${id(table.name)} t WHERE (${keyOf('t')}) = (${keyOf('s')}) AND to_jsonb(t) = to_jsonb(s))`);
    if (conflicting > 0) throw new RestoreRefusedError(`${conflicting} rows of ${table.name} in this database differ from the snapshot's`);
  }
  await tx.query(sql.unsafe`DROP TABLE ${staging(table.name)}`);
}

/** An identity sequence must hand out values above every restored one. */
async function moveIdentitiesPast(tx: CommonQueryMethods, table: CatalogTable): Promise<void> {
  for (const column of table.identityColumns) {
    await tx.query(sql.unsafe`
      SELECT setval(seq, GREATEST((SELECT max(${id(column)}) FROM ${id(table.name)}), last_value), true)
      FROM (SELECT pg_get_serial_sequence(${table.name}, ${column})::regclass AS seq) s,
           LATERAL pg_sequence_last_value(seq) AS lv(last_value)
      WHERE (SELECT max(${id(column)}) FROM ${id(table.name)}) IS NOT NULL`);
  }
}
