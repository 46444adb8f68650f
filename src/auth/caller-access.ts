import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { auditSettings, inTenantTransaction, tenantIdOf, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { tenantKeyRows, TenantKeyRows, type Keyring, type TenantKeys } from '../tenants/keyring.ts';
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

const CallerSchema = CallerAccessSchema.extend({ keys: TenantKeyRows.nullable() });

/**
 * A tenant transaction whose first statement binds the tenant and the audit context and reads
 * the caller's access: one round trip where reading the access first (readCallerAccess, on a
 * connection of its own) and then binding the transaction took two and a second connection.
 * With `keyring`, the same statement reads the party's keys too (Keyring.fromRows), for work
 * that decrypts or looks up blind indexes. `work` gets null for the access when the user does
 * not exist in the tenant or is disabled; the tenant is bound either way (caller_access binds
 * it), the audit context only for a caller that exists.
 * @throws TypeError when the tenant id is not a UUID.
 */
export async function withCaller<T>(pool: DatabasePool, context: TenantContext & { userId: string; keyring?: Keyring | undefined },
  work: (tx: TenantTransaction, access: CallerAccess | null, keys: TenantKeys | undefined) => Promise<T>): Promise<T> {
  const tenantId = tenantIdOf(context);
  const { keyring } = context;
  // The keys' subquery runs as the row is projected, after caller_access has bound the tenant
  // (the function's rows are complete before the first is returned).
  const keyRows = keyring ? sql.fragment`${tenantKeyRows(tenantId)} AS keys` : sql.fragment`NULL AS keys`;
  return inTenantTransaction(pool,
    (tx) => tx.maybeOne(sql.type(CallerSchema)`SELECT a.roles, a.headships, ${keyRows}, ${auditSettings(context)} FROM caller_access(${tenantId}, ${context.userId}) a`),
    (tx, row) => work(tx, row && { roles: row.roles, headships: row.headships }, row?.keys && keyring ? keyring.fromRows(tenantId, row.keys) : undefined));
}
