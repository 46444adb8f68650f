import { config, ConfigError } from '../config.ts';
import { resolveMasterKey } from '../crypto/master-key.ts';
import { createDatabasePool, type DatabasePool } from '../db/pool.ts';
import { snapshotMacKey } from './snapshot-format.ts';

/**
 * Runs `work` with a one-connection pool as the owner role (DATABASE_OWNER_URL): backups read
 * and restore every tenant table, the event store's chain columns and the audit log, which the
 * application role may not write. Statements may run long on a large party.
 * @throws ConfigError when DATABASE_OWNER_URL is not set.
 */
export async function withOwnerPool<T>(command: string, work: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const url = config().DATABASE_OWNER_URL;
  if (!url) throw new ConfigError(`DATABASE_OWNER_URL is not set: ${command} connects as the owner role`);
  const pool = await createDatabasePool(url, { maximumPoolSize: 1, statementTimeoutMs: 3_600_000 });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

/**
 * The key snapshots are signed and verified with, derived from the configured master key
 * (MASTER_KEY; outside production the development key in DATA_DIR).
 * @throws ConfigError when the master key is missing (production) or malformed.
 */
export function configuredSnapshotMacKey(command: string): Buffer {
  try {
    return snapshotMacKey(resolveMasterKey(config()));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${(err as Error).message}: ${command} signs and verifies snapshots with a key derived from it`);
  }
}
