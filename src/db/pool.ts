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
export function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  return createPool(url, {
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeout: 5_000,
    idleTimeout: 30_000,
  });
}
