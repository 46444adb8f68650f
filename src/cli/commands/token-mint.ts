import { z } from 'zod';
import { issueToken } from '../../auth/tokens.ts';
import { config, ConfigError } from '../../config.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, requireUserId, withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- token:mint --tenant <slug> --user <email>';

const OPTIONS = { tenant: { type: 'string' }, user: { type: 'string' } } as const;

const Flags = z.object({ tenant: requiredFlag, user: requiredFlag });

/**
 * Prints only the token on stdout (so it can be captured) and what was minted on stderr.
 * @throws ConfigError when AUTH_TOKEN_SECRET is not set.
 */
async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const secret = config().AUTH_TOKEN_SECRET;
  if (!secret) throw new ConfigError('AUTH_TOKEN_SECRET is not set: token:mint signs with the same key as the API');
  const { token, expiresAt, slug } = await withApplicationPool('token:mint', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const userId = await withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => requireUserId(tx, flags.user));
    return { ...(await issueToken(Buffer.from(secret, 'base64'), { userId, tenantId: tenant.id })), slug: tenant.slug };
  });
  process.stderr.write(`Bearer token for ${flags.user} in ${slug}, valid until ${expiresAt.toISOString()}:\n`);
  process.stdout.write(`${token}\n`);
}

export const tokenMint = operatorCommand('Print a short-lived API bearer token for a user (as the API would issue at login)', run);
