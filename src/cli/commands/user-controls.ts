import { sql } from 'slonik';
import { z } from 'zod';
import { MANUAL_REVOCATION_REASONS, revokeCurrentCard } from '../../cards/card-revocation.ts';
import { withTenant, type TenantTransaction } from '../../db/tenant-context.ts';
import { DomainError } from '../../errors/domain-error.ts';
import { disableUser, endHeadship, revokeUserRole } from '../../users/user-admin.ts';
import { USER_ROLES } from '../../users/users.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

/** The id of the party's user with this email, active or not. @throws OperatorError naming --user. */
async function userByEmail(tx: TenantTransaction, email: string): Promise<string> {
  const id = await tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM users WHERE email = ${email.trim().toLowerCase()}`);
  if (!id) throw new OperatorError(`--user: no user with email ${email} in this party`);
  return id;
}

/**
 * Runs `work` in one transaction of the party, audited as `cli:<os user>`; a DomainError
 * becomes an OperatorError naming the flag of the field at fault.
 */
async function inParty<T>(command: string, slug: string, flagOf: Record<string, string>, work: (tx: TenantTransaction, tenantId: string, actor: string) => Promise<T>): Promise<T> {
  return withApplicationPool(command, async (pool) => {
    const tenant = await requireTenant(pool, slug);
    const actor = operatorActor();
    try {
      return await withTenant(pool, { tenantId: tenant.id, actor }, (tx) => work(tx, tenant.id, actor));
    } catch (err) {
      if (err instanceof DomainError) {
        const flag = flagOf[err.field ?? ''];
        throw new OperatorError(flag ? `${flag}: ${err.message}` : err.message);
      }
      throw err;
    }
  });
}

const print = (line: string) => process.stdout.write(`${line}\n`);

const reasonFlag = requiredFlag.pipe(z.string().min(3, 'at least 3 characters').max(500, 'at most 500 characters'));
const UserFlags = z.object({ tenant: requiredFlag, user: requiredFlag, reason: reasonFlag });
const USER_OPTIONS = { tenant: { type: 'string' }, user: { type: 'string' }, reason: { type: 'string' } } as const;

export const userDisable = operatorCommand('Disable a user: no more logins, and their bearer tokens are refused at once', async (args) => {
  const flags = parseFlags(args, USER_OPTIONS, UserFlags, 'Usage: npm run cli -- user:disable --tenant <slug> --user <email> --reason <why>');
  const standing = await inParty('user:disable', flags.tenant, { userId: '--user' }, async (tx) => disableUser(tx, await userByEmail(tx, flags.user), flags.reason));
  print(`Disabled ${flags.user} (${standing.id}); roles kept on record but inert: ${standing.roles.join(', ') || 'none'}`);
});

const RoleFlags = UserFlags.extend({ role: z.enum(USER_ROLES, { error: (issue) => (issue.input === undefined ? 'is required' : `one of ${USER_ROLES.join(', ')}`) }) });

export const userRevokeRole = operatorCommand('End one of a user\'s roles, effective from their next request', async (args) => {
  const flags = parseFlags(args, { ...USER_OPTIONS, role: { type: 'string' } }, RoleFlags,
    `Usage: npm run cli -- user:revoke-role --tenant <slug> --user <email> --role ${USER_ROLES.join('|')} --reason <why>`);
  const standing = await inParty('user:revoke-role', flags.tenant, { userId: '--user', role: '--role' },
    async (tx) => revokeUserRole(tx, await userByEmail(tx, flags.user), flags.role, flags.reason));
  print(`Ended the ${flags.role} role of ${flags.user}; roles in force: ${standing.roles.join(', ') || 'none'}`);
});

const HeadFlags = UserFlags.extend({ committee: z.uuid({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a committee id (a UUID)') }) });

export const committeeEndHead = operatorCommand('End a user\'s running head term of a committee: they can no longer approve or reject for it', async (args) => {
  const flags = parseFlags(args, { ...USER_OPTIONS, committee: { type: 'string' } }, HeadFlags,
    'Usage: npm run cli -- committee:end-head --tenant <slug> --committee <committee id> --user <email> --reason <why>');
  const ended = await inParty('committee:end-head', flags.tenant, { userId: '--user', committeeId: '--committee' },
    async (tx) => endHeadship(tx, flags.committee, await userByEmail(tx, flags.user), flags.reason));
  print(`Ended the head term of ${flags.user} on committee ${flags.committee} at ${ended.validTo.toISOString()}; it stays in the committee's history`);
});

const CardFlags = z.object({
  tenant: requiredFlag,
  member: z.uuid({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a member id (a UUID)') }),
  reason: z.enum(MANUAL_REVOCATION_REASONS, { error: (issue) => (issue.input === undefined ? 'is required' : `one of ${MANUAL_REVOCATION_REASONS.join(', ')}`) }),
});

export const cardRevoke = operatorCommand('Revoke a member\'s current ID card: the public card check answers CARD_REVOKED from then on', async (args) => {
  const flags = parseFlags(args, { tenant: { type: 'string' }, member: { type: 'string' }, reason: { type: 'string' } }, CardFlags,
    `Usage: npm run cli -- card:revoke --tenant <slug> --member <member id> --reason ${MANUAL_REVOCATION_REASONS.join('|')}`);
  const revoked = await inParty('card:revoke', flags.tenant, {}, async (tx, tenantId, actor) => {
    const member = await tx.exists(sql.unsafe`SELECT 1 FROM members WHERE id = ${flags.member}`);
    if (!member) throw new OperatorError(`--member: no member ${flags.member} in ${flags.tenant}`);
    const card = await revokeCurrentCard(tx, tenantId, flags.member, flags.reason, actor);
    if (!card) throw new OperatorError(`--member: member ${flags.member} holds no current ID card`);
    return card;
  });
  print(`Revoked card ${revoked.cardId} of member ${revoked.memberId} (${revoked.reason}) at ${revoked.revokedAt.toISOString()}`);
});
