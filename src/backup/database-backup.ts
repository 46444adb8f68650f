import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { appliedMigrations } from './snapshot-reader.ts';
import { inSnapshot, writeTenantSnapshot, type ExportResult } from './tenant-export.ts';
import { importTenant, type ImportResult } from './tenant-import.ts';

export const BACKUP_INDEX = 'backup.json';

const BackupIndexSchema = z.object({
  format: z.literal('sadasya-database-backup'),
  version: z.literal(1),
  createdAt: z.string(),
  migrations: z.array(z.string()),
  tenants: z.array(z.object({ slug: z.string(), file: z.string().regex(/^[a-z0-9-]+\.snapshot\.jsonl$/), bodySha256: z.string() })),
});
export type BackupIndex = z.infer<typeof BackupIndexSchema>;

/**
 * A logical backup of the whole database: every tenant's snapshot (see exportTenant), all read
 * in ONE repeatable-read transaction, so the backup is one consistent point in time across
 * parties, plus `backup.json` listing them. The schema itself is not in it: `npm run migrate`
 * recreates it, and the index names the migrations a restore needs.
 * @throws Error when `dir` exists and is not empty.
 */
export async function backupDatabase(owner: DatabasePool, dir: string): Promise<{ index: BackupIndex; exports: ExportResult[] }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0) throw new Error(`${dir} is not empty: back up into a new directory`);
  return inSnapshot(owner, async (tx) => {
    const slugs = await tx.anyFirst(sql.type(z.object({ slug: z.string() }))`SELECT slug FROM tenants ORDER BY slug`);
    const exports: ExportResult[] = [];
    for (const slug of slugs) exports.push(await writeTenantSnapshot(tx, slug, path.join(dir, `${slug}.snapshot.jsonl`)));
    const index: BackupIndex = {
      format: 'sadasya-database-backup', version: 1, createdAt: new Date().toISOString(), migrations: await appliedMigrations(tx),
      tenants: exports.map((e) => ({ slug: e.header.tenant.slug, file: path.basename(e.file), bodySha256: e.manifest.bodySha256 })),
    };
    await writeFile(path.join(dir, BACKUP_INDEX), `${JSON.stringify(index, null, 2)}\n`, { mode: 0o600 });
    return { index, exports };
  });
}

/**
 * Restores every tenant of a backup into a database migrated to the same version that holds
 * none of them, one tenant per transaction (each verified against its manifest and its event
 * chain before it commits). A failure stops at that tenant; the ones before it stay restored.
 * @throws SnapshotFormatError (also when a file is not the one the index lists), RestoreRefusedError.
 */
export async function restoreDatabase(owner: DatabasePool, dir: string): Promise<ImportResult[]> {
  const index = BackupIndexSchema.parse(JSON.parse(await readFile(path.join(dir, BACKUP_INDEX), 'utf8')));
  const restored: ImportResult[] = [];
  for (const entry of index.tenants) {
    restored.push(await importTenant(owner, path.join(dir, entry.file), entry));
  }
  return restored;
}
