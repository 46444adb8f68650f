import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
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
