import { z } from 'zod';
import { countWorkflowVersions, type VersionFilter } from '../../temporal/workflow-versions.ts';
import { isoDateTime } from '../../validation/fields.ts';
import { parseFlags } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { requireTenant, withApplicationPool, withTemporal } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- workflows:versions [--tenant <slug>] [--started-before <RFC 3339 time, e.g. the deploy time>]';

const Flags = z.object({
  tenant: z.string().trim().min(1, 'needs a value').optional(),
  'started-before': isoDateTime.optional(),
});

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, 'started-before': { type: 'string' } }, Flags, USAGE);
  // Counts from visibility (search attributes) only: no payload crosses, so no payload codec and no master key needed.
  await withTemporal('workflows:versions reads Temporal visibility', async (client, settings) => {
    const filter: VersionFilter = {
      startedBefore: flags['started-before'] === undefined ? undefined : new Date(flags['started-before']),
      tenantId: flags.tenant === undefined ? undefined : (await withApplicationPool('workflows:versions', (pool) => requireTenant(pool, flags.tenant!))).id,
    };
    const { types, patches } = await countWorkflowVersions(client, filter);
    const scope = [
      `namespace ${settings.TEMPORAL_NAMESPACE}`,
      flags.tenant === undefined ? 'every party' : `party ${flags.tenant}`,
      filter.startedBefore === undefined ? undefined : `started before ${filter.startedBefore.toISOString()}`,
    ].filter(Boolean).join(', ');
    const typeWidth = Math.max(13, ...types.map((t) => t.workflowType.length));
    const patchWidth = Math.max(8, ...patches.map((p) => p.patchId.length));
    const lines = [
      `Running workflows (${scope}):`,
      `${'workflow type'.padEnd(typeWidth)}  running`,
      ...types.map((t) => `${t.workflowType.padEnd(typeWidth)}  ${t.running}`),
      '',
      'Patches: running workflows that have not taken each one (started before it, or not yet at the patched code):',
      `${'patch id'.padEnd(patchWidth)}  ${'workflow type'.padEnd(typeWidth)}  not taken  taken`,
      ...patches.map((p) => `${p.patchId.padEnd(patchWidth)}  ${p.workflowType.padEnd(typeWidth)}  ${String(p.notTaken).padEnd(9)}  ${p.taken}`),
      '',
      'List them with: temporal workflow list --query "<query>"',
      ...patches.map((p) => `  ${p.patchId}: ${p.notTakenQuery}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

export const workflowsVersions = operatorCommand(
  'Count running workflows per type and, per patch id, those that have not taken it (before deprecating a patch)',
  run,
);
