import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { config, ConfigError } from '../../config.ts';
import { resolveMasterKey } from '../../crypto/master-key.ts';
import { withTenant, type TenantTransaction } from '../../db/tenant-context.ts';
import { GATEWAY_ENVIRONMENTS, GatewayAccountInputSchema, GATEWAYS, partyGateways, setGatewayAccount } from '../../payments/gateway-accounts.ts';
import { Keyring } from '../../tenants/keyring.ts';
import type { Tenant } from '../../tenants/tenants.ts';
import { UsageError } from '../command.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = {
  set: `Usage: npm run cli -- gateway:set --tenant <slug> --gateway ${GATEWAYS.join('|')} --environment ${GATEWAY_ENVIRONMENTS.join('|')} [--base-url URL] [--merchant-code CODE] [--secret-file PATH]
  The merchant secret (eSewa's secret key, Khalti's live secret key) is read from --secret-file, or else from stdin; never from a flag.`,
  list: 'Usage: npm run cli -- gateway:list --tenant <slug>',
};

const SET_OPTIONS = {
  tenant: { type: 'string' }, gateway: { type: 'string' }, environment: { type: 'string' },
  'base-url': { type: 'string' }, 'merchant-code': { type: 'string' }, 'secret-file': { type: 'string' },
} as const;
const SetFlags = z.object({
  tenant: requiredFlag,
  gateway: requiredFlag.pipe(z.enum(GATEWAYS, { error: `one of ${GATEWAYS.join(', ')}` })),
  environment: requiredFlag.pipe(z.enum(GATEWAY_ENVIRONMENTS, { error: `one of ${GATEWAY_ENVIRONMENTS.join(', ')}` })),
  'base-url': requiredFlag.optional(),
  'merchant-code': requiredFlag.optional(),
  'secret-file': requiredFlag.optional(),
});

/** The account's fields as the operator's flags name them. */
const FLAG_OF: Record<string, string> = { gateway: '--gateway', environment: '--environment', baseUrl: '--base-url', merchantCode: '--merchant-code', secret: 'the secret' };

/** @throws ConfigError when the master key is missing (production) or malformed. */
function masterKeyring(): Keyring {
  try {
    return new Keyring(resolveMasterKey(config()));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${(err as Error).message}: gateway:set wraps the merchant secret with it`);
  }
}

async function readSecret(file: string | undefined): Promise<string> {
  let raw: string;
  if (file !== undefined) {
    raw = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new UsageError(`--secret-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    });
  } else {
    if (process.stdin.isTTY) process.stderr.write('Merchant secret (this terminal echoes it; end with Enter, Ctrl-D): ');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
    raw = Buffer.concat(chunks).toString('utf8');
  }
  return raw.replace(/\r?\n$/, '');
}

function inParty<T>(command: string, slug: string, work: (tx: TenantTransaction, tenant: Tenant) => Promise<T>): Promise<T> {
  return withApplicationPool(command, async (pool) => {
    const tenant = await requireTenant(pool, slug);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => work(tx, tenant));
  });
}

async function set(args: string[]): Promise<void> {
  const flags = parseFlags(args, SET_OPTIONS, SetFlags, USAGE.set);
  const secret = await readSecret(flags['secret-file']);
  const parsed = GatewayAccountInputSchema.safeParse({
    gateway: flags.gateway, environment: flags.environment, baseUrl: flags['base-url'], merchantCode: flags['merchant-code'], secret,
  });
  if (!parsed.success) {
    throw new UsageError(`${parsed.error.issues.map((issue) => `${FLAG_OF[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`).join('\n')}\n${USAGE.set}`);
  }
  const keyring = masterKeyring();
  await inParty('gateway:set', flags.tenant, (tx, tenant) => setGatewayAccount(tx, keyring, tenant.id, parsed.data));
  const where = flags.environment === 'simulator' ? `the simulator at ${flags['base-url']}` : `${flags.gateway}'s ${flags.environment}`;
  process.stdout.write(`${flags.tenant} takes ${flags.gateway} payments through ${where}; the secret is stored wrapped by the master key\n`);
}

async function list(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' } }, z.object({ tenant: requiredFlag }), USAGE.list);
  const rows = await inParty('gateway:list', flags.tenant, (tx) => partyGateways(tx));
  if (rows.length === 0) {
    process.stdout.write(`${flags.tenant} takes no gateway payments: set an account with gateway:set\n`);
    return;
  }
  process.stdout.write(`${['gateway'.padEnd(8), 'environment'].join('  ')}\n${rows.map((r) => `${r.gateway.padEnd(8)}  ${r.environment}`).join('\n')}\n`);
}

export const gatewaySet = operatorCommand("Set a party's merchant account with eSewa or Khalti (the secret from --secret-file or stdin, stored wrapped)", set);
export const gatewayList = operatorCommand("List a party's payment gateways and their environments (never the secrets)", list);
