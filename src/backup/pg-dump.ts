import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { childEnvironment } from '../config.ts';
import { markSearchOperatorsLeakproof } from '../db/bootstrap.ts';
import type { PgClientTools } from './pg-client-tools.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

/** A database dump or restore that cannot go ahead, with what to do about it. */
export class PgDumpError extends DomainError {
  override readonly name = 'PgDumpError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('PG_DUMP_FAILED', message, options);
  }
}

/**
 * How pg_dump or pg_restore reaches `url`: the URL without its password, which goes to the
 * child in PGPASSWORD instead of its argv (where any user of the machine could read it).
 */
export function toolConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: childEnvironment(password ? { PGPASSWORD: password } : {}) };
}

function run(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new PgDumpError(`${executable} exited ${String(code)}: ${stderr.trim()}`))));
  });
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * pg_dump of the whole database in the custom format, one consistent snapshot (pg_dump reads
 * in one repeatable-read transaction). Needs a superuser connection: the tables force row-level
 * security, which pg_dump refuses to dump through.
 * @throws PgDumpError when `file` exists or pg_dump fails.
 */
export async function pgDumpDatabase(tools: PgClientTools, adminUrl: string, file: string): Promise<void> {
  if (existsSync(file)) throw new PgDumpError(`${file} exists: choose a new file`);
  const { dbname, env } = toolConnection(adminUrl);
  await run(tools.pgDump, ['--format=custom', '--compress=6', `--file=${file}`, `--dbname=${dbname}`], env);
}

/**
 * Restores a pgDumpDatabase file into an empty database (made like any other: the roles exist,
 * the database belongs to the owner role) in one transaction, marks the search operators
 * leakproof again (a catalog change no dump carries), and verifies every party's event chain.
 * @returns each party's slug and the number of events whose chain verified.
 * @throws PgDumpError when the database is not empty, pg_restore fails, or a chain is broken.
 */
export async function pgRestoreDatabase(tools: PgClientTools, adminUrl: string, file: string): Promise<{ slug: string; events: number }[]> {
  if (!existsSync(file)) throw new PgDumpError(`${file} does not exist`);
  const tables = await withClient(adminUrl, async (client) =>
    (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0]!.n);
  if (tables > 0) throw new PgDumpError(`the database already has ${tables} tables: restore into an empty one`);
  const { dbname, env } = toolConnection(adminUrl);
  await run(tools.pgRestore, ['--exit-on-error', '--single-transaction', `--dbname=${dbname}`, file], env);
  await markSearchOperatorsLeakproof(adminUrl);
  return withClient(adminUrl, async (client) => {
    const parties = (await client.query<{ id: string; slug: string }>('SELECT id, slug FROM tenants ORDER BY slug')).rows;
    const verified: { slug: string; events: number }[] = [];
    for (const party of parties) {
      await client.query('BEGIN');
      try {
        await client.query("SELECT set_config('app.tenant_id', $1, true)", [party.id]);
        const { rows } = await client.query<{ broken: string | null; checked: string }>(
          'SELECT first_broken_position::text AS broken, checked::text FROM verify_event_chain($1::uuid)', [party.id]);
        if (rows[0]!.broken !== null) throw new PgDumpError(`party ${party.slug}: the event chain breaks at position ${rows[0]!.broken}`);
        verified.push({ slug: party.slug, events: Number(rows[0]!.checked) });
      } finally {
        await client.query('COMMIT');
      }
    }
    return verified;
  });
}
