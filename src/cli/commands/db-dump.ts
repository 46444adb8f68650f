import { z } from 'zod';
import { config, toolSearchPaths } from '../../config.ts';
import { findPgClientTools } from '../../backup/pg-client-tools.ts';
import { pgDumpDatabase, PgDumpError, pgRestoreDatabase } from '../../backup/pg-dump.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { positionalAndOut } from './tenant-export.ts';

function adminUrl(): string {
  const url = config().DATABASE_ADMIN_URL;
  if (!url) throw new OperatorError('DATABASE_ADMIN_URL is not set: db:dump and db:restore-dump connect as a superuser of the database');
  return url;
}

const tools = () => findPgClientTools({ explicitDir: config().PG_CLIENT_BIN_DIR, ...toolSearchPaths(), log: (line) => process.stderr.write(`${line}\n`) });

const asOperatorError = (err: unknown) => {
  if (err instanceof PgDumpError) throw new OperatorError(err.message);
  throw err;
};

async function dump(args: string[]): Promise<void> {
  const { out } = parseFlags(args, { out: { type: 'string' } }, z.object({ out: requiredFlag }), 'Usage: npm run cli -- db:dump --out <new file>');
  const started = Date.now();
  await pgDumpDatabase(await tools(), adminUrl(), out).catch(asOperatorError);
  process.stdout.write(`Dumped the database to ${out} (pg_dump, custom format) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function restore(args: string[]): Promise<void> {
  const { positional: file } = positionalAndOut(args, 'Usage: npm run cli -- db:restore-dump <file>', false);
  const started = Date.now();
  const parties = await pgRestoreDatabase(await tools(), adminUrl(), file).catch(asOperatorError);
  process.stdout.write(`Restored ${file} (pg_restore) in ${((Date.now() - started) / 1000).toFixed(1)} s; event chains verified: `
    + `${parties.map((p) => `${p.slug} (${p.events} events)`).join(', ') || 'no parties'}\n`);
}

export const dbDump = operatorCommand('pg_dump the whole database into one file (custom format), as a superuser (DATABASE_ADMIN_URL)', dump);
export const dbRestoreDump = operatorCommand('pg_restore a db:dump file into an empty database and verify every event chain, as a superuser (DATABASE_ADMIN_URL)', restore);
