import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import {
  LineMac, macLine, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, rowLine, TableChecksums, type SnapshotHeader, type SnapshotManifest, type TableSum,
} from './snapshot-format.ts';
import { appliedMigrations, enterSnapshotTenant, pinOutputSettings, readMemberNumberSequence, readTableRows } from './snapshot-reader.ts';
import { readCatalog, type CatalogTable } from './table-catalog.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

export class TenantNotFoundError extends DomainError {
  override readonly name = 'TenantNotFoundError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('TENANT_NOT_FOUND', message, options);
  }
}

export interface ExportResult {
  file: string;
  header: SnapshotHeader;
  manifest: SnapshotManifest;
}

/** Buffers lines and writes them in large chunks, hashing (body lines) and MACing (every line) what it writes. */
class LineWriter {
  readonly hash = createHash('sha256');
  readonly mac: LineMac;
  #chunk: string[] = [];
  #size = 0;
  readonly #file: Awaited<ReturnType<typeof open>>;

  constructor(file: Awaited<ReturnType<typeof open>>, macKey: Buffer) {
    this.#file = file;
    this.mac = new LineMac(macKey);
  }

  /** `body`: counted in the manifest's body SHA-256 (not the manifest itself); `signed`: covered by the MAC (not the MAC line). */
  async line(text: string, { body = true, signed = true } = {}): Promise<void> {
    if (body) this.hash.update(text).update('\n');
    if (signed) this.mac.add(text);
    this.#chunk.push(text, '\n');
    this.#size += text.length + 1;
    if (this.#size > 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    await this.#file.write(this.#chunk.join(''));
    this.#chunk = [];
    this.#size = 0;
  }
}

/** Row count and SHA-256 of each table's rows for this tenant, read as a snapshot would write them. */
export async function tableChecksums(tx: CommonQueryMethods, tables: readonly CatalogTable[], tenantId: string): Promise<Record<string, TableSum>> {
  const sums = new TableChecksums(tables.map((t) => t.name));
  for (const table of tables) {
    for await (const row of readTableRows(tx, table, tenantId)) sums.add(table.name, row);
  }
  return sums.digest();
}

/** Opens the snapshot transaction every export reads in: REPEATABLE READ, READ ONLY, output settings pinned. */
export async function inSnapshot<T>(owner: DatabasePool, work: (tx: CommonQueryMethods) => Promise<T>): Promise<T> {
  return owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
    await pinOutputSettings(tx);
    return work(tx);
  });
}

/**
 * Writes one tenant's consistent snapshot to `file`: one REPEATABLE READ, READ ONLY transaction
 * as the owner role with the tenant entered (FORCE ROW LEVEL SECURITY binds the owner too). It
 * holds every row of every tenant table (the event store with its chain and hashes, the audit
 * log, the keys still wrapped by the master key), the shared geography the rows point at, the
 * member-number sequence, a manifest of checksums, and last a MAC under `macKey` (see
 * snapshotMacKey) over all of it. The file appears only when complete.
 * @throws TenantNotFoundError; UncoveredTableError when a table would be missed.
 */
export async function exportTenant(owner: DatabasePool, slug: string, file: string, macKey: Buffer): Promise<ExportResult> {
  return inSnapshot(owner, (tx) => writeTenantSnapshot(tx, slug, file, macKey));
}

/** exportTenant inside the caller's snapshot transaction (a whole-database backup shares one). */
export async function writeTenantSnapshot(tx: CommonQueryMethods, slug: string, file: string, macKey: Buffer): Promise<ExportResult> {
  const tenant = await tx.maybeOne(sql.type(z.object({ id: z.string(), slug: z.string() }))`SELECT id, slug FROM tenants WHERE slug = ${slug}`);
  if (!tenant) throw new TenantNotFoundError(`no party with slug "${slug}"`);
  await enterSnapshotTenant(tx, tenant.id);
  const tables = await readCatalog(tx);
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, tenant, exportedAt: new Date().toISOString(),
    snapshot: 'repeatable read, read only', migrations: await appliedMigrations(tx),
    tables: tables.map(({ name, scope, columns, identityColumns }) => ({ name, scope, columns, identityColumns })),
  };
  const partial = `${file}.partial`;
  const handle = await open(partial, 'w', 0o600);
  try {
    const writer = new LineWriter(handle, macKey);
    await writer.line(JSON.stringify({ snapshot: header }));
    const sums = new TableChecksums(tables.map((t) => t.name));
    for (const table of tables) {
      for await (const row of readTableRows(tx, table, tenant.id)) {
        sums.add(table.name, row);
        await writer.line(rowLine(table.name, row));
      }
    }
    const manifest: SnapshotManifest = { tables: sums.digest(), memberNumberSequence: await readMemberNumberSequence(tx, tenant.id), bodySha256: writer.hash.digest('hex') };
    await writer.line(JSON.stringify({ manifest }), { body: false });
    await writer.line(macLine(writer.mac.digest()), { body: false, signed: false });
    await writer.flush();
    await handle.sync();
    await handle.close();
    await rename(partial, file);
    return { file, header, manifest };
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw err;
  }
}
