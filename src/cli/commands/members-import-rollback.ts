import { z } from 'zod';
import { withTenant } from '../../db/tenant-context.ts';
import { rowProgress } from '../../imports/import-progress.ts';
import { findImport, MemberImportError } from '../../imports/import-record.ts';
import { rollBackImport } from '../../imports/import-rollback.ts';
import { requiredFlag } from './flags.ts';
import { DEFAULT_BATCH, parseCommandLine } from './members-import.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- members:import:rollback --tenant <slug> <import id>
       Deletes the members the import created and records a MemberImportRolledBack event for each.`;

const Flags = z.object({ tenant: requiredFlag });

async function run(args: string[]): Promise<void> {
  const { flags, values } = parseCommandLine(args, { tenant: { type: 'string' } }, Flags, USAGE, ['<import id>']);
  const importId = values[0]!;
  const deleted = await withApplicationPool('members:import:rollback', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const context = { tenantId: tenant.id, actor: operatorActor() };
    const known = z.uuid().safeParse(importId).success ? await withTenant(pool, context, (tx) => findImport(tx, importId)) : null;
    const progress = rowProgress(process.stderr, `rollback ${importId}`, known?.importedRows ?? 0);
    let reported = 0;
    return rollBackImport(pool, context, importId, DEFAULT_BATCH, (total) => {
      progress.advance(total - reported, 'batch deleted');
      reported = total;
    }).finally(() => progress.stop());
  }).catch((err: unknown) => {
    if (err instanceof MemberImportError) throw new OperatorError(err.message);
    throw err;
  });
  process.stdout.write(`Rolled back import ${importId} of ${flags.tenant}: ${deleted} members deleted\n`);
}

export const membersImportRollback = operatorCommand('Undo a members:import: delete its members, append MemberImportRolledBack events', run);
