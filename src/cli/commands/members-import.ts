import { access } from 'node:fs/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { z } from 'zod';
import { config, ConfigError } from '../../config.ts';
import { createDatabasePool, type DatabasePool } from '../../db/pool.ts';
import { ImportFileError } from '../../imports/import-file.ts';
import { rowProgress, type RowProgress } from '../../imports/import-progress.ts';
import { MemberImportError } from '../../imports/import-record.ts';
import { importMembers, type ImportObserver } from '../../imports/member-import.ts';
import { configuredKeyring, type Keyring } from '../../tenants/keyring.ts';
import { UsageError } from '../command.ts';
import { describeIssues, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant } from './operator-session.ts';

/** Rows per transaction. Larger batches are slower: see docs/member-import.md. */
export const DEFAULT_BATCH = 2_000;

const USAGE = `Usage: npm run cli -- members:import <file.csv> --tenant <slug> [--batch ${DEFAULT_BATCH}] [--resume <import id>] [--skip-invalid]
       Columns and rules: docs/member-import.md. Refused rows go to <file.csv>.rejected.csv.`;

const OPTIONS = { tenant: { type: 'string' }, batch: { type: 'string' }, resume: { type: 'string' }, 'skip-invalid': { type: 'boolean' } } as const;

const Flags = z.object({
  tenant: requiredFlag,
  batch: z.string().regex(/^[1-9]\d{0,4}$/, 'rows per batch, 1 to 20000').transform(Number).refine((n) => n <= 20_000, 'at most 20000').optional(),
  resume: z.uuid({ error: 'an import id (a UUID)' }).optional(),
  'skip-invalid': z.boolean().default(false),
});

/**
 * Reads `<positional> --flag value ...`: exactly `positionals` positional arguments.
 * @throws UsageError naming the flag or the missing argument, followed by the usage.
 */
export function parseCommandLine<S extends z.ZodType>(args: string[], options: ParseArgsOptionsConfig, schema: S, usage: string, positionals: string[]): { flags: z.output<S>; values: string[] } {
  let parsed: { values: unknown; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
  if (parsed.positionals.length !== positionals.length) throw new UsageError(`give ${positionals.join(' and ')}\n${usage}`);
  const result = schema.safeParse(parsed.values);
  if (!result.success) throw new UsageError(`${describeIssues(result.error, (p) => `--${p.split('.')[0] ?? p}`)}\n${usage}`);
  return { flags: result.data, values: parsed.positionals };
}

/** A pool of one connection as the application role, whose batch statements may run long. */
export async function withImportPool<T>(command: string, work: (pool: DatabasePool, keyring: Keyring) => Promise<T>): Promise<T> {
  const settings = config();
  if (!settings.DATABASE_URL) throw new ConfigError(`DATABASE_URL is not set: ${command} connects as the application role`);
  let keyring: Keyring;
  try {
    keyring = configuredKeyring(settings);
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}: ${command} encrypts with the party's keys, which it unwraps`);
  }
  const pool = await createDatabasePool(settings.DATABASE_URL, { maximumPoolSize: 1, statementTimeoutMs: 600_000 });
  try {
    return await work(pool, keyring);
  } finally {
    await pool.end();
  }
}

function observer(out: NodeJS.WriteStream): ImportObserver & { stop(): void } {
  let progress: RowProgress | undefined;
  return {
    validated({ rows, accepted, rejected, rejectedFile }) {
      out.write(`Read ${rows} rows: ${accepted} to import, ${rejected.length} refused${rejectedFile ? ` (all listed in ${rejectedFile})` : ''}\n`);
      for (const { line, reasons } of rejected.slice(0, 20)) out.write(`  line ${line}: ${reasons.join('; ')}\n`);
      if (rejected.length > 20) out.write(`  … and ${rejected.length - 20} more\n`);
    },
    loading(importId, rows) {
      out.write(`Import ${importId}: loading ${rows} rows\n`);
      progress = rowProgress(out, `import ${importId}`, rows);
    },
    batchCommitted({ rows, fromLine, throughLine }) {
      progress?.advance(rows, `lines ${fromLine}-${throughLine} committed`);
    },
    stop: () => progress?.stop(),
  };
}

async function run(args: string[]): Promise<void> {
  const { flags, values } = parseCommandLine(args, OPTIONS, Flags, USAGE, ['<file.csv>']);
  const file = values[0]!;
  await access(file).catch(() => {
    throw new OperatorError(`${file}: no such file`);
  });
  const display = observer(process.stderr);
  const outcome = await withImportPool('members:import', async (pool, keyring) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const request = { file, tenant, actor: operatorActor(), batchSize: flags.batch ?? DEFAULT_BATCH, resumeId: flags.resume, skipInvalid: flags['skip-invalid'], now: new Date() };
    return importMembers(pool, keyring, request, display);
  }).catch((err: unknown) => {
    if (err instanceof MemberImportError || err instanceof ImportFileError) throw new OperatorError(err.message);
    throw err;
  }).finally(() => display.stop());
  if (outcome.kind === 'refused') {
    throw new OperatorError(`Nothing imported: ${outcome.rejected} rows refused. Correct them, or import the others with --skip-invalid.`);
  }
  const skipped = outcome.skipped > 0 ? `; ${outcome.skipped} refused rows skipped (${outcome.rejectedFile ?? ''})` : '';
  process.stdout.write(`Imported ${outcome.imported} members into ${flags.tenant} as import ${outcome.importId}${skipped}\n`);
}

export const membersImport = operatorCommand('Import members from a CSV file (validated first; batched; resumable; see docs/member-import.md)', run);
