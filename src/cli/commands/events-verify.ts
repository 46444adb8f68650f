import { z } from 'zod';
import { config } from '../../config.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { verifyAnchoredChain, type ChainVerification } from '../../events/chain-anchors.ts';
import { configuredKeyring } from '../../tenants/keyring.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- events:verify --tenant <slug>';

const OPTIONS = { tenant: { type: 'string' } } as const;

const Flags = z.object({ tenant: requiredFlag });

function report(slug: string, check: ChainVerification): string {
  const { anchors } = check;
  const chain = check.brokenAt === null
    ? `hash chain: ${check.checked} event(s) link up`
    : `hash chain: BROKEN at position ${check.brokenAt}`;
  const anchored = anchors.failure
    ? `anchors: BROKEN: anchor ${anchors.failure.anchorId} (chain position ${anchors.failure.chainSeq}) ${anchors.failure.problem}`
    : `anchors: ${anchors.anchors} hold; anchored through chain position ${anchors.anchoredThrough ?? 'none'}${anchors.lastAnchoredAt ? ` at ${anchors.lastAnchoredAt.toISOString()}` : ''}; ${anchors.unanchoredEvents} event(s) after it`;
  const stale = check.staleSince ? [`  anchoring: STALE: events since ${check.staleSince.toISOString()} have no anchor (the newest anchors were removed, or anchoring stopped)`] : [];
  return [`${slug}: ${check.intact ? 'intact' : 'NOT INTACT'}`, `  ${chain}`, `  ${anchored}`, ...stale].join('\n');
}

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const settings = config();
  const keyring = configuredKeyring(settings);
  const check = await withApplicationPool('events:verify', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    // Anchors come every CHAIN_ANCHOR_INTERVAL_MINUTES: an event waiting twice that long has lost the ones that covered it.
    const maxUnanchoredMs = 2 * settings.CHAIN_ANCHOR_INTERVAL_MINUTES * 60_000;
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => verifyAnchoredChain(tx, tenant.id, keyring, { maxUnanchoredMs }));
  });
  process.stdout.write(`${report(flags.tenant, check)}\n`);
  if (!check.intact) process.exitCode = 1;
}

export const eventsVerify = operatorCommand(
  "Verify a party's event chain and its anchors (MACs under the master key): exit 1 when rows were changed behind the product's back",
  run,
);
