import { configuredSnapshotMacKey, withOwnerPool } from '../../backup/owner-pool.ts';
import { SnapshotFormatError } from '../../backup/snapshot-format.ts';
import { importTenant, RestoreRefusedError } from '../../backup/tenant-import.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { positionalAndOut } from './tenant-export.ts';

const USAGE = 'Usage: npm run cli -- tenant:import <file>';

async function run(args: string[]): Promise<void> {
  const { positional: file } = positionalAndOut(args, USAGE, false);
  const macKey = configuredSnapshotMacKey('tenant:import');
  const started = Date.now();
  const result = await withOwnerPool('tenant:import', (pool) => importTenant(pool, file, macKey)).catch((err: unknown) => {
    if (err instanceof SnapshotFormatError || err instanceof RestoreRefusedError) throw new OperatorError(`${err.message}; nothing was restored`);
    throw err;
  });
  const rows = Object.values(result.tables).reduce((sum, t) => sum + t.rows, 0);
  process.stdout.write(`Restored ${result.tenant.slug} (${result.tenant.id}) from ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s: `
    + `${rows} rows, every table's checksum matches, event chain of ${result.eventsVerified} events verified\n`);
}

export const tenantImport = operatorCommand('Restore a party from a tenant:export snapshot into a database without it (verified before commit), as the owner role', run);
