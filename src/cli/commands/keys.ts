import { z } from 'zod';
import { config, ConfigError } from '../../config.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { reencryptPersonalData, reindexBlindIndexes, rewrapUnderCurrentMasterKey, rotateTenantKey, RotationUnfinishedError, type BatchProgress } from '../../tenants/key-rotation.ts';
import { configuredKeyring, type KeyPurpose, type Keyring } from '../../tenants/keyring.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

/** @throws ConfigError when a master key is missing (production) or malformed. */
function keyringFor(command: string): Keyring {
  try {
    return configuredKeyring(config());
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${(err as Error).message}: ${command} unwraps the party's keys with it`);
  }
}

const PURPOSES: Record<string, KeyPurpose> = { data: 'data', 'blind-index': 'blind_index', 'card-signing': 'card_signing' };

const ROTATE_USAGE = 'Usage: npm run cli -- keys:rotate --tenant <slug> --key data|blind-index|card-signing';

const NEXT_STEP: Record<KeyPurpose, string> = {
  data: 'New personal data is encrypted with it; data encrypted before stays readable with the retired key, which is kept (keys:reencrypt moves it to the new key).',
  blind_index: 'Now run keys:reindex for this party, and again an hour from now: until then lookups and duplicate checks look under both keys.',
  card_signing: 'New cards are signed with it; the retired key still verifies the cards it signed until they expire.',
};

async function rotate(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, key: { type: 'string' } }, z.object({
    tenant: requiredFlag,
    key: z.enum(Object.keys(PURPOSES) as [string, ...string[]], { error: 'must be data, blind-index or card-signing' }),
  }), ROTATE_USAGE);
  const purpose = PURPOSES[flags.key]!;
  const keyring = keyringFor('keys:rotate');
  const { keyId, kid } = await withApplicationPool('keys:rotate', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const keyId = await rotateTenantKey(pool, keyring, tenant.id, purpose, operatorActor()).catch((err: unknown) => {
      throw err instanceof RotationUnfinishedError ? new OperatorError(`--key: ${err.message}`) : err;
    });
    const keys = await withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => keyring.forTenant(tx, tenant.id));
    return { keyId, kid: keys.cardVerifying[0]?.kid };
  });
  const named = purpose === 'card_signing' ? ` (cards carry kid ${kid})` : '';
  process.stdout.write(`Rotated the ${flags.key} key of ${flags.tenant}: new key ${keyId}${named}\n${NEXT_STEP[purpose]}\n`);
}

const BATCH_OPTIONS = { tenant: { type: 'string' }, batch: { type: 'string' }, after: { type: 'string' } } as const;
const BatchFlags = z.object({
  tenant: requiredFlag,
  batch: z.string().regex(/^[1-9]\d{0,4}$/, 'a whole number from 1 to 99999').transform(Number).default(500),
  after: z.guid('a member id').optional(),
});
const reportBatch = (p: BatchProgress) => process.stderr.write(`  ${p.scanned} scanned, ${p.changed} changed, through member ${p.lastId ?? '-'}\n`);

async function reindex(args: string[]): Promise<void> {
  const flags = parseFlags(args, BATCH_OPTIONS, BatchFlags, 'Usage: npm run cli -- keys:reindex --tenant <slug> [--batch 500] [--after <member id>]');
  const keyring = keyringFor('keys:reindex');
  const progress = await withApplicationPool('keys:reindex', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return reindexBlindIndexes(pool, keyring, tenant.id, { actor: operatorActor(), batchSize: flags.batch, after: flags.after, onBatch: reportBatch });
  });
  process.stdout.write(`Re-indexed ${flags.tenant}: ${progress.scanned} member(s) scanned, ${progress.changed} changed\n`);
  process.stdout.write(progress.previousKeyFinished === true
    ? 'Every blind index is under the current key: lookups no longer use the previous one.\n'
    : `Lookups still look under the previous key too: ${progress.previousKeyFinished}.\n`);
  if (progress.conflicts.length > 0) {
    throw new OperatorError(`${progress.conflicts.length} member(s) share a phone or email with another member and were left as they were: ${progress.conflicts.join(', ')}`);
  }
}

async function reencrypt(args: string[]): Promise<void> {
  const flags = parseFlags(args, BATCH_OPTIONS, BatchFlags, 'Usage: npm run cli -- keys:reencrypt --tenant <slug> [--batch 500] [--after <member id>]');
  const keyring = keyringFor('keys:reencrypt');
  const progress = await withApplicationPool('keys:reencrypt', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return reencryptPersonalData(pool, keyring, tenant.id, { actor: operatorActor(), batchSize: flags.batch, after: flags.after, onBatch: reportBatch });
  });
  process.stdout.write(`Re-encrypted ${flags.tenant}: ${progress.scanned} member(s) scanned, ${progress.changed} changed\n`);
}

async function rewrapMaster(args: string[]): Promise<void> {
  parseFlags(args, {}, z.object({}), 'Usage: MASTER_KEY=<new> MASTER_KEY_PREVIOUS=<old> npm run cli -- keys:rewrap-master');
  const settings = config();
  if (!settings.MASTER_KEY_PREVIOUS) {
    throw new OperatorError('MASTER_KEY_PREVIOUS is not set: give the new master key as MASTER_KEY and the one being retired as MASTER_KEY_PREVIOUS (environment, never arguments)');
  }
  const keyring = keyringFor('keys:rewrap-master');
  const { counts, unopened, anchorFailures } = await withApplicationPool('keys:rewrap-master', (pool) => rewrapUnderCurrentMasterKey(pool, keyring, operatorActor()));
  const lines = Object.entries(counts).map(([column, n]) => `  ${column}: ${n} re-wrapped`);
  for (const value of unopened) process.stderr.write(`warning: ${value} opens under neither master key (tampered with?): left as it is, never used\n`);
  process.stdout.write(`Every wrapped key is now under master key ${keyring.masterKeyId}\n${lines.join('\n')}\n`);
  if (anchorFailures.length > 0) {
    for (const failure of anchorFailures) process.stderr.write(`event chain anchors not re-keyed: ${failure}\n`);
    process.stderr.write('Keep MASTER_KEY_PREVIOUS set and investigate these parties with events:verify before retiring the old key.\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write('Unset MASTER_KEY_PREVIOUS and restart the API and worker.\n');
}

export const keysRotate = operatorCommand("Rotate one of a party's keys (data, blind-index or card-signing); the old one is kept for reading and verifying", rotate, { tenant: '--tenant', key: '--key' });
export const keysReindex = operatorCommand("Recompute a party's phone and email blind indexes under its current blind-index key (resumable, batched)", reindex);
export const keysReencrypt = operatorCommand("Re-encrypt a party's members' personal fields under its current data key (resumable, batched)", reencrypt);
export const keysRewrapMaster = operatorCommand('Re-wrap every party key under MASTER_KEY, opening those MASTER_KEY_PREVIOUS wrapped', rewrapMaster);
