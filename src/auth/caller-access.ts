import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { auditSettings, inTenantTransaction, tenantIdOf, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { USER_ROLES, type UserRole } from '../users/users.ts';

/** What a user may do now: their roles, and the committees they head with the area each covers. */
export interface CallerAccess {
  roles: UserRole[];
  headships: { committeeId: string; geographyPath: string }[];
}

const CallerAccessSchema = z.object({
  roles: z.array(z.enum(USER_ROLES)),
  headships: z.array(z.object({ committeeId: z.string(), geographyPath: z.string() })),
});

/**
 * One statement, outside any transaction (migrations/0017_caller_access.sql): binds the
 * tenant and reads under row-level security. Null when the user does not exist in the
 * tenant or is disabled.
 */
export async function readCallerAccess(pool: DatabasePool, tenantId: string, userId: string): Promise<CallerAccess | null> {
  return pool.maybeOne(sql.type(CallerAccessSchema)`SELECT roles, headships FROM caller_access(${tenantId}, ${userId})`);
}

/**
 * A tenant transaction whose first statement binds the tenant and the audit context and reads
 * the caller's access: one round trip where reading the access first (readCallerAccess, on a
 * connection of its own) and then binding the transaction took two and a second connection.
 * `work` gets null when the user does not exist in the tenant or is disabled; the tenant is
 * bound either way (caller_access binds it), the audit context only for a caller that exists.
 * @throws TypeError when the tenant id is not a UUID.
 */
export async function withCaller<T>(pool: DatabasePool, context: TenantContext & { userId: string }, work: (tx: TenantTransaction, access: CallerAccess | null) => Promise<T>): Promise<T> {
  const tenantId = tenantIdOf(context);
  return inTenantTransaction(pool,
    (tx) => tx.maybeOne(sql.type(CallerAccessSchema)`SELECT a.roles, a.headships, ${auditSettings(context)} FROM caller_access(${tenantId}, ${context.userId}) a`),
    work);
}
