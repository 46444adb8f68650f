import { z } from 'zod';
import { withTenant } from '../../db/tenant-context.ts';
import { recountStatistics } from '../../statistics/member-statistics.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- stats:recount --tenant <slug>';

const OPTIONS = { tenant: { type: 'string' } } as const;

const Flags = z.object({ tenant: requiredFlag });

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const { correctedRows } = await withApplicationPool('stats:recount', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => recountStatistics(tx, tenant.id));
  });
  const outcome = correctedRows === 0 ? 'already matched its members' : `${correctedRows} row(s) corrected`;
  process.stdout.write(`Recounted the member statistics of ${flags.tenant}: ${outcome}\n`);
}

export const statsRecount = operatorCommand("Recount a party's member statistics from its members (repairs the read model)", run);
