import { createPool, SchemaValidationError, sql, type DatabasePool, type Interceptor, type QueryResultRow } from 'slonik';

export type { DatabasePool };

export interface PoolOptions {
  maximumPoolSize?: number;
  statementTimeoutMs?: number;
  /** More interceptors, run before the result parser (tests count queries with one). */
  interceptors?: Interceptor[];
}

/**
 * A Slonik pool. Timestamps come back as epoch milliseconds, int8 as bigint (slonik's default
 * parsers), and every typed query's rows are checked against its zod schema.
 */
/** Validates (and coerces) every row against the query's `sql.type(schema)`. */
const resultParser: Interceptor = {
  name: 'result-parser',
  transformRowAsync: async (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = await parser['~standard'].validate(row);
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as QueryResultRow;
  },
};

export async function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  const pool = await createPool(url, {
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeout: 5_000,
    idleTimeout: 30_000,
    interceptors: [...(options.interceptors ?? []), resultParser],
  });
  // Slonik also emits every query error on the pool; the error still rejects the query that
  // caused it. Without a listener the emit itself would throw and mask the real error.
  pool.on('error', () => undefined);
  return pool;
}

/** One round trip: the database answers. */
export async function pingDatabase(pool: DatabasePool): Promise<void> {
  await pool.oneFirst(sql.unsafe`SELECT 1`);
}
