import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';
import { USER_ROLES, type UserRole } from './users.ts';

/**
 * An operator's or administrator's controls over the party's users: disable an account, end a
 * role, end a committee headship. Each is one UPDATE in the caller's tenant transaction, so the
 * audit trigger records it with the transaction's actor (`user:<id>` from the API, `cli:<os user>`
 * from the CLI). Users and committees keep no event stream: the audit log is their history.
 *
 * The API reads who a caller is on every request (caller_access, migrations/0017): a disabled
 * user's tokens, an ended role and an ended headship stop working with the next request, and a
 * disabled user cannot log in.
 */

/** A user as the controls leave them: whether they may act, their roles and the committees they head now. */
export interface UserStanding {
  id: string;
  active: boolean;
  roles: UserRole[];
  headOf: string[];
}

const Standing = z.object({ id: z.string(), active: z.boolean(), roles: z.array(z.enum(USER_ROLES)), headOf: z.array(z.string()) });

/** The user's standing now; null when the tenant has no such user. */
export async function userStanding(tx: TenantTransaction, userId: string): Promise<UserStanding | null> {
  return tx.maybeOne(sql.type(Standing)`
    SELECT u.id, u.is_active AS active,
      COALESCE((SELECT array_agg(r.role::text ORDER BY r.role) FROM user_roles r WHERE r.user_id = u.id AND r.revoked_at IS NULL), '{}') AS roles,
      COALESCE((SELECT array_agg(cr.committee_id::text ORDER BY cr.committee_id) FROM committee_roles cr
                WHERE cr.user_id = u.id AND cr.role = 'head' AND cr.valid_from <= clock_timestamp()
                  AND (cr.valid_to IS NULL OR cr.valid_to > clock_timestamp())), '{}') AS "headOf"
    FROM users u WHERE u.id = ${userId}`);
}

async function requireStanding(tx: TenantTransaction, userId: string): Promise<UserStanding> {
  const standing = await userStanding(tx, userId);
  if (!standing) throw new DomainError('USER_NOT_FOUND', 'no such user in this party', { field: 'userId' });
  return standing;
}

/**
 * Disables a user, saying why: they can no longer log in, and the tokens they hold are refused
 * from the next request on. Their roles and headships stay on record (and stay inert).
 * Disabling a disabled user changes nothing.
 * @throws DomainError USER_NOT_FOUND; OWN_ACCESS when `actingUserId` is the user.
 */
export async function disableUser(tx: TenantTransaction, userId: string, reason: string, actingUserId?: string): Promise<UserStanding> {
  if (userId === actingUserId) throw new DomainError('OWN_ACCESS', 'you cannot disable your own account; another tenant_admin must', { field: 'userId' });
  await tx.query(sql.unsafe`UPDATE users SET is_active = false, disabled_reason = ${reason} WHERE id = ${userId} AND is_active`);
  return requireStanding(tx, userId);
}

/**
 * Ends one of a user's roles now (user_roles.revoked_at); the row stays as history.
 * @throws DomainError USER_NOT_FOUND; ROLE_NOT_FOUND when the user does not hold the role;
 *   OWN_ACCESS when an administrator (`actingUserId`) ends their own tenant_admin role.
 */
export async function revokeUserRole(tx: TenantTransaction, userId: string, role: UserRole, reason: string, actingUserId?: string): Promise<UserStanding> {
  if (userId === actingUserId && role === 'tenant_admin') {
    throw new DomainError('OWN_ACCESS', 'you cannot end your own tenant_admin role; another tenant_admin must', { field: 'role' });
  }
  const { rowCount: ended } = await tx.query(sql.unsafe`
    UPDATE user_roles SET revoked_at = clock_timestamp(), revocation_reason = ${reason} WHERE user_id = ${userId} AND role = ${role} AND revoked_at IS NULL`);
  const standing = await requireStanding(tx, userId);
  if (ended === 0) throw new DomainError('ROLE_NOT_FOUND', `the user does not hold the ${role} role`, { field: 'role' });
  return standing;
}

/**
 * Ends the user's running head term of the committee now: from the next request they can no
 * longer approve or reject for it. The term stays in the committee's history.
 * @throws DomainError COMMITTEE_NOT_FOUND, USER_NOT_FOUND, or ROLE_NOT_FOUND when the user
 *   heads the committee in no running term.
 */
export async function endHeadship(tx: TenantTransaction, committeeId: string, userId: string, reason: string): Promise<{ committeeRoleId: string; validTo: Date; standing: UserStanding }> {
  const committee = await tx.exists(sql.unsafe`SELECT 1 FROM committees WHERE id = ${committeeId}`);
  if (!committee) throw new DomainError('COMMITTEE_NOT_FOUND', 'no such committee in this party', { field: 'committeeId' });
  await requireStanding(tx, userId);
  // The running term ends now (valid_to after its start, as the table requires); the row stays.
  const ended = await tx.maybeOne(sql.type(z.object({ id: z.string(), validTo: z.number() }))`
    UPDATE committee_roles SET valid_to = clock_timestamp(), end_reason = ${reason}
    WHERE id = (SELECT id FROM committee_roles
                WHERE committee_id = ${committeeId} AND user_id = ${userId} AND role = 'head'
                  AND valid_from < clock_timestamp() AND (valid_to IS NULL OR valid_to > clock_timestamp())
                ORDER BY valid_from DESC LIMIT 1)
    RETURNING id, valid_to AS "validTo"`);
  if (!ended) throw new DomainError('ROLE_NOT_FOUND', 'the user heads this committee in no running term', { field: 'userId' });
  return { committeeRoleId: ended.id, validTo: new Date(ended.validTo), standing: await requireStanding(tx, userId) };
}
