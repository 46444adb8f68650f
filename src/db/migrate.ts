import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../paths.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

export const MIGRATIONS_DIR = path.join(projectRoot, 'migrations');
// An arbitrary constant: every process that migrates this database takes the same lock.
const MIGRATION_LOCK_KEY = 7_340_219_001;

export class MigrationChecksumError extends DomainError {
  override readonly name = 'MigrationChecksumError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('MIGRATION_CHANGED', message, options);
  }
}

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * Applies every migration in name order, each once and in its own transaction, as the
 * owner role. An advisory lock makes concurrent starters wait for the one that migrates.
 * @throws MigrationChecksumError when an applied migration's file has since changed.
 */
export async function migrate(ownerUrl: string, dir = MIGRATIONS_DIR, log: (line: string) => void = () => undefined): Promise<MigrationResult> {
  const files = await readMigrations(dir);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [row.name, row.checksum]));
    const result: MigrationResult = { applied: [], skipped: [] };
    for (const file of files) {
      const previous = applied.get(file.name);
      if (previous !== undefined) {
        if (previous !== file.checksum) {
          throw new MigrationChecksumError(`Migration ${file.name} was changed after it was applied; add a new migration instead.`);
        }
        result.skipped.push(file.name);
        continue;
      }
      await applyOne(client, file);
      log(`applied ${file.name}`);
      result.applied.push(file.name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await client.end();
  }
}

async function applyOne(client: pg.Client, file: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [file.name, file.checksum]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw new Error(`Migration ${file.name} failed: ${(err as Error).message}`, { cause: err });
  }
}
