import { z } from 'zod';
import { createCommittee, parentCommittee } from '../../committees/committees.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- committee:create --tenant <slug> --geography <code> --name <committee name>';

const OPTIONS = {
  tenant: { type: 'string' },
  geography: { type: 'string' },
  name: { type: 'string' },
} as const;

const Flags = z.object({ tenant: requiredFlag, geography: requiredFlag, name: requiredFlag });

const FIELD_FLAGS = { geographyCode: '--geography', name: '--name' };

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const { committee, parent } = await withApplicationPool('committee:create', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, async (tx) => {
      const committee = await createCommittee(tx, tenant.id, { geographyCode: flags.geography, name: flags.name });
      return { committee, parent: await parentCommittee(tx, committee.id) };
    });
  });
  const above = parent ? `${parent.name} (${parent.id}, on ${parent.geographyCode})` : 'none';
  process.stdout.write(`Created committee ${committee.name} on ${committee.geographyCode} in ${flags.tenant}, id ${committee.id}\n  parent committee: ${above}\n`);
}

export const committeeCreate = operatorCommand('Create a party committee on a geography node (by code)', run, FIELD_FLAGS);
