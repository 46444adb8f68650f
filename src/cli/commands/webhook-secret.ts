import { z } from 'zod';
import { config, ConfigError } from '../../config.ts';
import { resolveMasterKey } from '../../crypto/master-key.ts';
import { withTenant, type TenantTransaction } from '../../db/tenant-context.ts';
import { createWebhookSecret, endWebhookSecretOverlap, listWebhookSecrets, rotateWebhookSecret, WebhookProviderSchema } from '../../payments/webhook-secrets.ts';
import { Keyring } from '../../tenants/keyring.ts';
import type { Tenant } from '../../tenants/tenants.ts';
import { durationFlag, parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const DEFAULT_OVERLAP = '24h';
const DEFAULT_OVERLAP_MS = 24 * 3_600_000;

const USAGE = {
  create: 'Usage: npm run cli -- webhook:secret:create --tenant <slug> --provider <name>',
  rotate: `Usage: npm run cli -- webhook:secret:rotate --tenant <slug> --provider <name> [--overlap ${DEFAULT_OVERLAP}]`,
  endOverlap: 'Usage: npm run cli -- webhook:secret:end-overlap --tenant <slug> --provider <name>',
  list: 'Usage: npm run cli -- webhook:secret:list --tenant <slug>',
};

const provider = requiredFlag.pipe(WebhookProviderSchema);
const TenantProvider = z.object({ tenant: requiredFlag, provider });
const TENANT_PROVIDER_OPTIONS = { tenant: { type: 'string' }, provider: { type: 'string' } } as const;

/** @throws ConfigError when the master key is missing (production) or malformed. */
function masterKeyring(command: string): Keyring {
  try {
    return new Keyring(resolveMasterKey(config()));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${(err as Error).message}: ${command} wraps the secret with it`);
  }
}

/** Runs `work` in the party's transaction, as the operator, under row-level security. */
function inParty<T>(command: string, slug: string, work: (tx: TenantTransaction, tenant: Tenant) => Promise<T>): Promise<T> {
  return withApplicationPool(command, async (pool) => {
    const tenant = await requireTenant(pool, slug);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => work(tx, tenant));
  });
}

/** The secret alone on stdout (so it can be captured), what it is for on stderr. */
function reveal(secret: string, lines: string[]): void {
  process.stderr.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${secret}\n`);
}

export const webhookSecretCreate = operatorCommand("Create a party's webhook secret for a payment provider, printed once", async (args) => {
  const flags = parseFlags(args, TENANT_PROVIDER_OPTIONS, TenantProvider, USAGE.create);
  const keyring = masterKeyring('webhook:secret:create');
  const issued = await inParty('webhook:secret:create', flags.tenant, (tx, tenant) => createWebhookSecret(tx, keyring, tenant.id, flags.provider));
  if (!issued) throw new OperatorError(`--provider: ${flags.tenant} already has a webhook secret for ${flags.provider}; use webhook:secret:rotate`);
  reveal(issued.secret, [
    `Webhook secret ${issued.id} for ${flags.provider} webhooks to ${flags.tenant}. It is shown only this once:`,
    'give it to the provider over a private channel; the API keeps it only wrapped by the master key.',
  ]);
});

export const webhookSecretRotate = operatorCommand(
  "Give a party's provider a new webhook secret, printed once; the previous one stays valid for --overlap (default 24h)",
  async (args) => {
    const flags = parseFlags(args, { ...TENANT_PROVIDER_OPTIONS, overlap: { type: 'string' } },
      TenantProvider.extend({ overlap: durationFlag.optional() }), USAGE.rotate);
    const keyring = masterKeyring('webhook:secret:rotate');
    const issued = await inParty('webhook:secret:rotate', flags.tenant, (tx, tenant) => rotateWebhookSecret(tx, keyring, tenant.id, flags.provider, flags.overlap ?? DEFAULT_OVERLAP_MS));
    if (!issued) throw new OperatorError(`--provider: ${flags.tenant} has no webhook secret for ${flags.provider}; create one with webhook:secret:create`);
    reveal(issued.secret, [
      `New webhook secret ${issued.id} for ${flags.provider} webhooks to ${flags.tenant}. It is shown only this once.`,
      `The previous secret is accepted until ${new Date(issued.previousRetiresAt).toISOString()}; once the provider signs with the new one,`,
      `end the overlap with: npm run cli -- webhook:secret:end-overlap --tenant ${flags.tenant} --provider ${flags.provider}`,
    ]);
  },
);

export const webhookSecretEndOverlap = operatorCommand("Stop accepting a party's rotated-out webhook secrets for a provider now (only the current one stays valid)", async (args) => {
  const flags = parseFlags(args, TENANT_PROVIDER_OPTIONS, TenantProvider, USAGE.endOverlap);
  const ended = await inParty('webhook:secret:end-overlap', flags.tenant, (tx) => endWebhookSecretOverlap(tx, flags.provider));
  process.stdout.write(`${ended} previous ${ended === 1 ? 'secret' : 'secrets'} of ${flags.provider} for ${flags.tenant} no longer accepted\n`);
});

export const webhookSecretList = operatorCommand("List a party's webhook secrets (never the secrets): provider, id, created, and current or until when accepted", async (args) => {
  const flags = parseFlags(args, { tenant: { type: 'string' } }, z.object({ tenant: requiredFlag }), USAGE.list);
  const rows = await inParty('webhook:secret:list', flags.tenant, (tx) => listWebhookSecrets(tx));
  if (rows.length === 0) {
    process.stdout.write(`No webhook secrets for ${flags.tenant}: create one with webhook:secret:create\n`);
    return;
  }
  const now = Date.now();
  const state = (retiresAt: number | null) =>
    retiresAt === null ? 'current' : retiresAt > now ? `accepted until ${new Date(retiresAt).toISOString()}` : `retired ${new Date(retiresAt).toISOString()}`;
  const width = Math.max(8, ...rows.map((row) => row.provider.length));
  const lines = rows.map((row) => `${row.provider.padEnd(width)}  ${row.id}  ${new Date(row.createdAt).toISOString()}  ${state(row.retiresAt)}`);
  process.stdout.write(`${['provider'.padEnd(width), 'id'.padEnd(36), 'created'.padEnd(24), 'state'].join('  ')}\n${lines.join('\n')}\n`);
});
