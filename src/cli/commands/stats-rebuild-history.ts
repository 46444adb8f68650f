import { z } from 'zod';
import { withTenant } from '../../db/tenant-context.ts';
import { rebuildStatusHistory } from '../../statistics/status-history.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- stats:rebuild-history --tenant <slug>';

const OPTIONS = { tenant: { type: 'string' } } as const;

const Flags = z.object({ tenant: requiredFlag });

/**
 * Throws the as-of-date projection away and derives it again from the party's events alone
 * (migrations/0025), reporting how many daily sums differ from what the incremental
 * projection held: zero shows it was derived from the events and nothing else.
 */
async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const outcome = await withApplicationPool('stats:rebuild-history', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => rebuildStatusHistory(tx, tenant.id));
  });
  const lines = [
    `Rebuilt the membership history of ${flags.tenant} from its events: ${outcome.changes} change(s), ${outcome.dailyRows} daily row(s)`,
    outcome.differingRows === 0 ? '  equal to the projection it replaced' : `  ${outcome.differingRows} daily row(s) differed from the projection it replaced, and are now corrected`,
    ...(outcome.unmappedEventTypes.length > 0
      ? [`  event types without a row in member_status_effects (counted as changing nothing): ${outcome.unmappedEventTypes.join(', ')}`]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const statsRebuildHistory = operatorCommand("Derive a party's membership-as-of-date projection again from its events, and report any difference", run);
