import { sql } from 'slonik';
import { z } from 'zod';
import { appointCommitteeRole, COMMITTEE_ROLES } from '../../committees/committee-roles.ts';
import { findCommittee } from '../../committees/committees.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, requireUserId, withApplicationPool } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- committee:appoint --tenant <slug> --committee <committee id> --user <email> --role ${COMMITTEE_ROLES.join('|')}
       Appointing a head ends the current head's term.`;

const OPTIONS = {
  tenant: { type: 'string' },
  committee: { type: 'string' },
  user: { type: 'string' },
  role: { type: 'string' },
} as const;

const Flags = z.object({
  tenant: requiredFlag,
  committee: z.uuid({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a committee id (a UUID)') }),
  user: requiredFlag,
  role: z.enum(COMMITTEE_ROLES, { error: (issue) => (issue.input === undefined ? 'is required' : `one of ${COMMITTEE_ROLES.join(', ')}`) }),
});

const FIELD_FLAGS = { committeeId: '--committee', userId: '--user', role: '--role' };

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const report = await withApplicationPool('committee:appoint', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, async (tx) => {
      const committee = await findCommittee(tx, flags.committee);
      if (!committee) throw new OperatorError(`--committee: no committee ${flags.committee} in ${tenant.slug}`);
      const userId = await requireUserId(tx, flags.user);
      const appointment = await appointCommitteeRole(tx, tenant.id, { committeeId: committee.id, userId, role: flags.role });
      const endedEmails = await tx.anyFirst(sql.type(z.object({ email: z.string() }))`
        SELECT email FROM users WHERE id = ANY(${sql.array(appointment.ended.map((e) => e.userId), 'uuid')}) ORDER BY email`);
      return { committee, appointment, endedEmails };
    });
  });
  const { committee, appointment, endedEmails } = report;
  const lines = [`Appointed ${flags.user} ${appointment.role} of ${committee.name} (${committee.id}) from ${appointment.validFrom.toISOString()}`];
  for (const email of endedEmails) lines.push(`  ended the head term of ${email}; it stays in the committee's history`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const committeeAppoint = operatorCommand('Appoint a user head, secretary or member of a committee', run, FIELD_FLAGS);
