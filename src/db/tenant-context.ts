import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError, sql, type CommonQueryMethods, type DatabasePool, type FragmentSqlToken } from 'slonik';

/** Who is acting, for whom, and from where: the transaction's tenant and audit context. */
export interface TenantContext {
  tenantId: string;
  /** e.g. `user:<uuid>`, `workflow:<id>`, `cli:<os user>`, `applicant`. */
  actor: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export type TenantTransaction = CommonQueryMethods;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs `work` in one transaction bound to one tenant. Row-level security reads the tenant
 * from the transaction-local `app.tenant_id`, so nothing escapes the transaction, and the
 * audit triggers read the actor, IP and user agent from the same place.
 *
 * When `work` throws, the transaction is rolled back and the error rethrown, and the
 * connection goes back to the pool unless the error was the connection's own. (Slonik's
 * `pool.transaction` closes the connection on any error, so every refusal raised inside a
 * transaction, a 404 or a 403, cost a new connection and its authentication: 8 ms instead
 * of under 1, and a reconnect an anonymous caller could provoke at will.) The pool resets
 * each connection it takes back (src/db/pool.ts RESET_CONNECTION) and closes one whose reset
 * fails: one that comes back still bound to a tenant among them.
 * @throws TypeError when the tenant id is not a UUID.
 */
export async function withTenant<T>(pool: DatabasePool, context: TenantContext, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  return inTenantTransaction(pool, (tx) => enterTenant(tx, context), (tx) => work(tx));
}

/**
 * withTenant with another first statement: `enter` binds the tenant (and may read, in the
 * same round trip, what the work needs first), and `work` gets what it read.
 */
export async function inTenantTransaction<E, T>(pool: DatabasePool, enter: (tx: TenantTransaction) => Promise<E>, work: (tx: TenantTransaction, entered: E) => Promise<T>): Promise<T> {
  const outcome = await pool.connect(async (connection) => {
    try {
      const value = await connection.transaction(async (tx) => work(tx, await enter(tx)));
      return { ok: true as const, value };
    } catch (error) {
      if (brokeTheConnection(error)) throw error;
      return { ok: false as const, error };
    }
  });
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

function brokeTheConnection(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof BackendTerminatedError || error instanceof BackendTerminatedUnexpectedlyError;
}

/**
 * Binds the current transaction to a tenant and an audit context (transaction-local).
 * @throws TypeError when the tenant id is not a UUID.
 */
export async function enterTenant(tx: TenantTransaction, context: TenantContext): Promise<void> {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantIdOf(context)}, true), ${auditSettings(context)}`);
}

/** The context's tenant id. @throws TypeError when it is not a UUID. */
export function tenantIdOf(context: TenantContext): string {
  if (!UUID.test(context.tenantId)) throw new TypeError(`tenantId must be a UUID, got "${context.tenantId}"`);
  return context.tenantId;
}

/** The select-list items that bind the audit context (actor, IP, user agent) to the transaction. */
export function auditSettings(context: TenantContext): FragmentSqlToken {
  return sql.fragment`set_config('app.actor', ${context.actor}, true) AS actor,
           set_config('app.ip', ${context.ip ?? ''}, true) AS ip,
           set_config('app.user_agent', ${(context.userAgent ?? '').slice(0, 500)}, true) AS user_agent`;
}
