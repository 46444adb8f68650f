import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

export const USER_ROLES = ['tenant_admin', 'treasurer', 'registrar', 'ops'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const NewUserSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email()),
  displayName: z.string().trim().min(1).max(200),
  password: z.string().min(12, 'at least 12 characters').max(200),
  roles: z.array(z.enum(USER_ROLES)).default([]).transform((roles) => [...new Set(roles)]),
});
export type NewUser = z.input<typeof NewUserSchema>;

/**
 * Creates a user of the transaction's tenant with an argon2id password hash.
 * @throws ZodError naming the bad field; UniqueIntegrityConstraintViolationError for a taken email.
 */
export async function createUser(tx: TenantTransaction, tenantId: string, input: NewUser): Promise<{ id: string }> {
  const user = NewUserSchema.parse(input);
  const hash = await argon2.hash(user.password, { type: argon2.argon2id });
  const id = await tx.oneFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO users (tenant_id, email, display_name, password_hash)
    VALUES (${tenantId}, ${user.email}, ${user.displayName}, ${hash}) RETURNING id`);
  for (const role of user.roles) {
    await tx.query(sql.unsafe`INSERT INTO user_roles (tenant_id, user_id, role) VALUES (${tenantId}, ${id}, ${role})`);
  }
  return { id };
}

/** The password check, as an object so a test can watch it being made. */
export const passwordCheck = {
  verify: (hash: string, password: string): Promise<boolean> => argon2.verify(hash, password),
};

let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a hash no password matches, made with the same parameters as
 * users' hashes: a login for an email or party that does not exist costs what a real one does,
 * so its answer time does not tell who has an account.
 */
export async function verifyNobody(password: string): Promise<null> {
  dummyHash ??= argon2.hash(randomBytes(32).toString('base64'), { type: argon2.argon2id });
  await passwordCheck.verify(await dummyHash, password);
  return null;
}

/** The user's id when the password matches, else null (same answer, and the same cost, for an unknown email and a wrong password). */
export async function verifyUserPassword(tx: TenantTransaction, email: string, password: string): Promise<string | null> {
  const row = await tx.maybeOne(sql.type(z.object({ id: z.string(), hash: z.string() }))`
    SELECT id, password_hash AS hash FROM users WHERE email = ${email.trim().toLowerCase()} AND is_active`);
  if (!row) return verifyNobody(password);
  return (await passwordCheck.verify(row.hash, password)) ? row.id : null;
}

/** Roles in force now; read on every request so a revoked role stops working at once. */
export async function currentRoles(tx: TenantTransaction, userId: string): Promise<UserRole[]> {
  const rows = await tx.anyFirst(sql.type(z.object({ role: z.enum(USER_ROLES) }))`
    SELECT role FROM user_roles WHERE user_id = ${userId} AND revoked_at IS NULL ORDER BY role`);
  return [...rows];
}
