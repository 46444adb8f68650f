import { backupDatabase, restoreDatabase } from '../../backup/database-backup.ts';
import { configuredSnapshotMacKey, withOwnerPool } from '../../backup/owner-pool.ts';
import { SnapshotFormatError } from '../../backup/snapshot-format.ts';
import { RestoreRefusedError } from '../../backup/tenant-import.ts';
import { z } from 'zod';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { positionalAndOut } from './tenant-export.ts';

async function backup(args: string[]): Promise<void> {
  const { out } = parseFlags(args, { out: { type: 'string' } }, z.object({ out: requiredFlag }), 'Usage: npm run cli -- db:backup --out <new directory>');
  const macKey = configuredSnapshotMacKey('db:backup');
  const started = Date.now();
  const { index } = await withOwnerPool('db:backup', (pool) => backupDatabase(pool, out, macKey));
  process.stdout.write(`Backed up ${index.tenants.length} parties (${index.tenants.map((t) => t.slug).join(', ') || 'none'}) to ${out} `
    + `at schema ${index.migrations.at(-1) ?? '(none)'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function restore(args: string[]): Promise<void> {
  const { positional: dir } = positionalAndOut(args, 'Usage: npm run cli -- db:restore <backup directory>', false);
  const macKey = configuredSnapshotMacKey('db:restore');
  const started = Date.now();
  const restored = await withOwnerPool('db:restore', (pool) => restoreDatabase(pool, dir, macKey)).catch((err: unknown) => {
    if (err instanceof SnapshotFormatError || err instanceof RestoreRefusedError) throw new OperatorError(err.message);
    throw err;
  });
  process.stdout.write(`Restored ${restored.length} parties from ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s, each verified against its checksums and event chain\n`);
}

export const dbBackup = operatorCommand('Back up every party in one consistent snapshot (a directory of tenant:export files), as the owner role', backup);
export const dbRestore = operatorCommand('Restore a db:backup directory into a freshly migrated database, as the owner role', restore);
