import { createHmac } from 'node:crypto';
import { sameBytes } from '../crypto/keyed-mac.ts';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { SnapshotFormatError } from './snapshot-format.ts';
import { verifySnapshotFile } from './snapshot-file.ts';
import { appliedMigrations } from './snapshot-reader.ts';
import { inSnapshot, writeTenantSnapshot, type ExportResult } from './tenant-export.ts';
import { importTenant, type ImportResult } from './tenant-import.ts';

export const BACKUP_INDEX = 'backup.json';

const BackupIndexSchema = z.object({
  format: z.literal('sadasya-database-backup'),
  version: z.literal(2),
  createdAt: z.string(),
  migrations: z.array(z.string()),
  tenants: z.array(z.object({ slug: z.string(), file: z.string().regex(/^[a-z0-9-]+\.snapshot\.jsonl$/), bodySha256: z.string() })),
});
export type BackupIndex = z.infer<typeof BackupIndexSchema>;

/** The index's MAC, under the snapshots' key, over its JSON text without the mac field. */
function indexMac(index: BackupIndex, macKey: Buffer): Buffer {
  return createHmac('sha256', macKey).update(`sadasya-database-backup|${JSON.stringify(index)}`).digest();
}

/**
 * backup.json as written: the index and its MAC, so no party can be dropped from or added to the
 * list unnoticed. @throws SnapshotFormatError when the file is not a signed index or its MAC fails.
 */
function verifiedIndex(text: string, macKey: Buffer): BackupIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SnapshotFormatError(`${BACKUP_INDEX} is not JSON`);
  }
  const { mac, ...rest } = (json ?? {}) as { mac?: unknown };
  const index = BackupIndexSchema.safeParse(rest);
  if (typeof mac !== 'string' || !index.success) throw new SnapshotFormatError(`${BACKUP_INDEX} is not a signed index of db:backup of this version`);
  if (!sameBytes(Buffer.from(mac, 'hex'), indexMac(index.data, macKey))) {
    throw new SnapshotFormatError(`${BACKUP_INDEX}: its MAC does not verify under this master key: the index was altered, or signed under another master key`);
  }
  return index.data;
}

/**
 * A logical backup of the whole database: every tenant's snapshot (see exportTenant), all read
 * in ONE repeatable-read transaction, so the backup is one consistent point in time across
 * parties, plus `backup.json` listing them. The schema itself is not in it: `npm run migrate`
 * recreates it, and the index names the migrations a restore needs.
 * @throws Error when `dir` exists and is not empty.
 */
export async function backupDatabase(owner: DatabasePool, dir: string, macKey: Buffer): Promise<{ index: BackupIndex; exports: ExportResult[] }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0) throw new Error(`${dir} is not empty: back up into a new directory`);
  return inSnapshot(owner, async (tx) => {
    const slugs = await tx.anyFirst(sql.type(z.object({ slug: z.string() }))`SELECT slug FROM tenants ORDER BY slug`);
    const exports: ExportResult[] = [];
    for (const slug of slugs) exports.push(await writeTenantSnapshot(tx, slug, path.join(dir, `${slug}.snapshot.jsonl`), macKey));
    const index: BackupIndex = {
      format: 'sadasya-database-backup', version: 2, createdAt: new Date().toISOString(), migrations: await appliedMigrations(tx),
      tenants: exports.map((e) => ({ slug: e.header.tenant.slug, file: path.basename(e.file), bodySha256: e.manifest.bodySha256 })),
    };
    const signed = { ...index, mac: indexMac(index, macKey).toString('hex') };
    await writeFile(path.join(dir, BACKUP_INDEX), `${JSON.stringify(signed, null, 2)}\n`, { mode: 0o600 });
    return { index, exports };
  });
}

/**
 * Restores every tenant of a backup into a database migrated to the same version that holds
 * none of them, one tenant per transaction (each verified against its manifest and its event
 * chain before it commits). The index's MAC and every file's MAC are verified before the first
 * party is written. A later failure stops at that tenant; the ones before it stay restored.
 * @throws SnapshotFormatError (also when a file is not the one the index lists), RestoreRefusedError.
 */
export async function restoreDatabase(owner: DatabasePool, dir: string, macKey: Buffer): Promise<ImportResult[]> {
  const index = verifiedIndex(await readFile(path.join(dir, BACKUP_INDEX), 'utf8'), macKey);
  for (const entry of index.tenants) await verifySnapshotFile(path.join(dir, entry.file), macKey);
  const restored: ImportResult[] = [];
  for (const entry of index.tenants) {
    restored.push(await importTenant(owner, path.join(dir, entry.file), macKey, entry));
  }
  return restored;
}
