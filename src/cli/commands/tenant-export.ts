import { parseArgs } from 'node:util';
import { configuredSnapshotMacKey, withOwnerPool } from '../../backup/owner-pool.ts';
import { exportTenant, TenantNotFoundError } from '../../backup/tenant-export.ts';
import { config } from '../../config.ts';
import { withTenant } from '../../db/tenant-context.ts';
import { anchorChain } from '../../events/chain-anchors.ts';
import { configuredKeyring } from '../../tenants/keyring.ts';
import { findTenantBySlug } from '../../tenants/tenants.ts';
import { UsageError } from '../command.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- tenant:export <slug> --out <file>';

/** Parses `<one positional> [--out <file>]`. @throws UsageError */
export function positionalAndOut(args: string[], usage: string, needsOut: boolean): { positional: string; out: string | undefined } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { out: { type: 'string' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
  const [positional, ...extra] = parsed.positionals;
  if (!positional || extra.length > 0) throw new UsageError(usage);
  if (needsOut !== (parsed.values.out !== undefined) || parsed.values.out === '') throw new UsageError(usage);
  return { positional, out: parsed.values.out };
}

async function run(args: string[]): Promise<void> {
  const { positional: slug, out } = positionalAndOut(args, USAGE, true);
  const macKey = configuredSnapshotMacKey('tenant:export');
  const started = Date.now();
  const keyring = configuredKeyring(config());
  const result = await withOwnerPool('tenant:export', async (pool) => {
    // An anchor at the head the snapshot will hold: the snapshot carries proof of its own chain.
    const tenant = await findTenantBySlug(pool, slug);
    if (tenant) await withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => anchorChain(tx, tenant.id, keyring, () => new Date(), 'export'));
    return exportTenant(pool, slug, out!, macKey);
  }).catch((err: unknown) => {
    if (err instanceof TenantNotFoundError) throw new OperatorError(`<slug>: ${err.message}`);
    throw err;
  });
  const lines = Object.entries(result.manifest.tables).filter(([, sum]) => sum.rows > 0).map(([table, sum]) => `  ${table.padEnd(20)} ${String(sum.rows).padStart(8)}  ${sum.sha256}`);
  process.stdout.write([`Exported ${slug} (${result.header.tenant.id}) to ${result.file} in ${((Date.now() - started) / 1000).toFixed(1)} s`, ...lines, `  body sha256 ${result.manifest.bodySha256}`].join('\n') + '\n');
}

export const tenantExport = operatorCommand('Write one party\'s consistent snapshot (every table, event chain, wrapped keys) with checksums and a MAC, as the owner role', run);
