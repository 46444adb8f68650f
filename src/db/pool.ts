import { createPool, type DatabasePool } from 'slonik';

export type { DatabasePool };

export interface PoolOptions {
  maximumPoolSize?: number;
  statementTimeoutMs?: number;
}

/**
 * A Slonik pool for the application role. Timestamps come back as epoch milliseconds,
 * int8 as bigint (slonik's default parsers).
 */
export async function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  const pool = await createPool(url, {
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeout: 5_000,
    idleTimeout: 30_000,
  });
  // Slonik also emits every query error on the pool; the error still rejects the query that
  // caused it. Without a listener the emit itself would throw and mask the real error.
  pool.on('error', () => undefined);
  return pool;
}
