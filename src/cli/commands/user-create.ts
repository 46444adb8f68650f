import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../db/tenant-context.ts';
import { createUser, NewUserSchema, USER_ROLES, type NewUser } from '../../users/users.ts';
import { UsageError } from '../command.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- user:create --tenant <slug> --email <email> --name <display name>
         (--password-stdin | --password-env <VARIABLE>) [--role tenant_admin] [--role treasurer ...]
       A password is never taken on the command line, where other users of the machine can see it.`;

const OPTIONS = {
  tenant: { type: 'string' },
  email: { type: 'string' },
  name: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'password-env': { type: 'string' },
  role: { type: 'string', multiple: true },
} as const;

const Flags = z.object({
  tenant: requiredFlag,
  email: requiredFlag,
  name: requiredFlag,
  'password-stdin': z.boolean().default(false),
  'password-env': z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable').optional(),
  role: z
    .array(z.enum(USER_ROLES, { error: `one of ${USER_ROLES.join(', ')}` }))
    .default([])
    .transform((roles) => [...new Set(roles)]),
});

const FIELD_FLAGS = { email: '--email', displayName: '--name', password: 'password', roles: '--role' };

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (this terminal echoes it; end with Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function readPassword(fromStdin: boolean, variable: string | undefined): Promise<string> {
  if (fromStdin === (variable !== undefined)) throw new UsageError(`give exactly one of --password-stdin or --password-env <VARIABLE>\n${USAGE}`);
  if (fromStdin) return readStdin();
  // eslint-disable-next-line no-restricted-properties -- the operator names the variable at run time, so config.ts cannot declare it
  const value = variable === undefined ? undefined : process.env[variable];
  if (!value) throw new UsageError(`--password-env: the environment variable ${variable} is not set or empty`);
  return value;
}

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const password = await readPassword(flags['password-stdin'], flags['password-env']);
  const input: NewUser = { email: flags.email, displayName: flags.name, password, roles: flags.role };
  const { email } = NewUserSchema.parse(input);
  const { tenant, userId } = await withApplicationPool('user:create', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const userId = await withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, async (tx) => (await createUser(tx, tenant.id, input)).id).catch((err: unknown) => {
      if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'users_tenant_id_email_key') {
        throw new OperatorError(`--email: ${email} is already a user of ${tenant.slug}`);
      }
      throw err;
    });
    return { tenant, userId };
  });
  const roles = flags.role.length > 0 ? `roles ${flags.role.join(', ')}` : 'no roles';
  process.stdout.write(`Created user ${email} (${flags.name}), id ${userId}, in ${tenant.slug} with ${roles}\n`);
}

export const userCreate = operatorCommand('Create a user of a party; the password comes from stdin or a named environment variable', run, FIELD_FLAGS);
