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

/**
 * How a connection goes back to the pool: what DISCARD ALL (slonik's default) does, but for
 * DISCARD PLANS, after a check. Dropping the session's cached plans made the next transaction
 * on the connection plan again what it had planned before (the caller_access function, the
 * row-level security of every table it reads): 0.3–0.4 ms more per request, measured by
 * bench/pool-reset.ts. Plans carry no tenant: the policies read app.tenant_id when they run.
 *
 * The check refuses a connection that comes back still bound to a tenant or inside a
 * transaction block (outside one, a statement's transaction starts with it); a failed reset
 * makes the pool close the connection rather than hand it out again. The binding is
 * transaction-local (src/db/tenant-context.ts), so it never should.
 */
export const RESET_CONNECTION = `DO $reset$ BEGIN
  IF NULLIF(current_setting('app.tenant_id', true), '') IS NOT NULL OR now() <> statement_timestamp() THEN
    RAISE EXCEPTION 'a connection came back to the pool bound to a tenant or inside a transaction';
  END IF;
  EXECUTE 'CLOSE ALL';
  EXECUTE 'SET SESSION AUTHORIZATION DEFAULT';
  EXECUTE 'RESET ALL';
  EXECUTE 'DEALLOCATE ALL';
  EXECUTE 'UNLISTEN *';
  PERFORM pg_advisory_unlock_all();
  EXECUTE 'DISCARD TEMP';
  EXECUTE 'DISCARD SEQUENCES';
END $reset$`;

export async function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  const pool = await createPool(url, {
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeout: 5_000,
    idleTimeout: 30_000,
    interceptors: [...(options.interceptors ?? []), resultParser],
    resetConnection: async ({ query }) => query(RESET_CONNECTION),
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
