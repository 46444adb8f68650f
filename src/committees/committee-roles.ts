import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { CommitteeError } from './committee-error.ts';

export const COMMITTEE_ROLES = ['head', 'secretary', 'member'] as const;
export type CommitteeRole = (typeof COMMITTEE_ROLES)[number];

export const AppointmentSchema = z.object({
  committeeId: z.uuid(),
  userId: z.uuid(),
  role: z.enum(COMMITTEE_ROLES),
  validFrom: z.date().optional(),
});
export type NewAppointment = z.input<typeof AppointmentSchema>;

export const EndRoleSchema = z.object({
  committeeRoleId: z.uuid(),
  validTo: z.date().optional(),
});
export type EndRole = z.input<typeof EndRoleSchema>;

export interface Appointment {
  id: string;
  committeeId: string;
  userId: string;
  role: CommitteeRole;
  validFrom: Date;
  /** Head terms this appointment ended (valid_to set to the new term's start). */
  ended: { id: string; userId: string }[];
}

const Id = z.object({ id: z.string() });
const HeadTerm = z.object({ id: z.string(), userId: z.string(), startsBefore: z.boolean() });

/**
 * The given instant, or the wall clock now, read once and reused by every statement. Not
 * `now()`: that is the transaction's start, and a transaction that waited for the committee
 * lock would start a term before the one committed while it waited.
 */
async function instant(tx: TenantTransaction, at: Date | undefined): Promise<FragmentSqlToken> {
  const text = await tx.oneFirst(sql.type(z.object({ at: z.string() }))`
    SELECT COALESCE(${at?.toISOString() ?? null}::timestamptz, clock_timestamp())::text AS at`);
  return sql.fragment`${text}::timestamptz`;
}

/**
 * Gives a user a role on a committee from `validFrom` (default now). A new head ends every
 * head term still running at that instant, in the caller's transaction, so history is kept
 * and at most one head term is open.
 * @throws ZodError naming the bad field; CommitteeError COMMITTEE_NOT_FOUND, USER_NOT_FOUND,
 * ROLE_ALREADY_HELD, or TERM_OVERLAP when the current head's term does not start before `validFrom`.
 */
export async function appointCommitteeRole(tx: TenantTransaction, tenantId: string, input: NewAppointment): Promise<Appointment> {
  const a = AppointmentSchema.parse(input);
  // Locking the committee row serializes appointments to it, so two concurrent new heads
  // queue instead of one failing on the one-open-head index.
  const open = await tx.exists(sql.unsafe`SELECT 1 FROM committees WHERE id = ${a.committeeId} AND dissolved_at IS NULL FOR UPDATE`);
  if (!open) throw new CommitteeError('COMMITTEE_NOT_FOUND', 'committeeId', `no undissolved committee ${a.committeeId}`);
  const start = await instant(tx, a.validFrom);
  const user = await tx.exists(sql.unsafe`SELECT 1 FROM users WHERE id = ${a.userId} AND is_active`);
  if (!user) throw new CommitteeError('USER_NOT_FOUND', 'userId', `no active user ${a.userId}`);
  const held = await tx.exists(sql.unsafe`
    SELECT 1 FROM committee_roles
    WHERE committee_id = ${a.committeeId} AND user_id = ${a.userId} AND role = ${a.role} AND (valid_to IS NULL OR valid_to > ${start})`);
  if (held) throw new CommitteeError('ROLE_ALREADY_HELD', 'userId', `user ${a.userId} already holds the ${a.role} role on this committee`);
  const ended = a.role === 'head' ? await endHeadTerms(tx, a.committeeId, start) : [];
  const row = await tx.one(sql.type(z.object({ id: z.string(), validFrom: z.number() }))`
    INSERT INTO committee_roles (tenant_id, committee_id, user_id, role, valid_from)
    VALUES (${tenantId}, ${a.committeeId}, ${a.userId}, ${a.role}, ${start})
    RETURNING id, valid_from AS "validFrom"`);
  return { id: row.id, committeeId: a.committeeId, userId: a.userId, role: a.role, validFrom: new Date(row.validFrom), ended };
}

async function endHeadTerms(tx: TenantTransaction, committeeId: string, start: FragmentSqlToken): Promise<Appointment['ended']> {
  const running = await tx.any(sql.type(HeadTerm)`
    SELECT id, user_id AS "userId", valid_from < ${start} AS "startsBefore" FROM committee_roles
    WHERE committee_id = ${committeeId} AND role = 'head' AND (valid_to IS NULL OR valid_to > ${start})`);
  if (running.some((term) => !term.startsBefore)) {
    throw new CommitteeError('TERM_OVERLAP', 'validFrom', 'a head term of this committee starts at or after it; choose a later validFrom');
  }
  if (running.length > 0) {
    await tx.query(sql.unsafe`UPDATE committee_roles SET valid_to = ${start} WHERE id = ANY(${sql.array(running.map((t) => t.id), 'uuid')})`);
  }
  return running.map(({ id, userId }) => ({ id, userId }));
}

/**
 * Ends a committee role at `validTo` (default now); the row stays as history.
 * @throws ZodError naming the bad field; CommitteeError ROLE_NOT_FOUND, or ROLE_NOT_OPEN when
 * the role has already ended or `validTo` is not after its start.
 */
export async function endCommitteeRole(tx: TenantTransaction, tenantId: string, input: EndRole): Promise<{ id: string; validTo: Date }> {
  const e = EndRoleSchema.parse(input);
  const end = await instant(tx, e.validTo);
  const row = await tx.maybeOne(sql.type(z.object({ id: z.string(), validTo: z.number() }))`
    UPDATE committee_roles SET valid_to = ${end}
    WHERE tenant_id = ${tenantId} AND id = ${e.committeeRoleId} AND valid_from < ${end} AND (valid_to IS NULL OR valid_to > ${end})
    RETURNING id, valid_to AS "validTo"`);
  if (row) return { id: row.id, validTo: new Date(row.validTo) };
  const exists = await tx.maybeOne(sql.type(Id)`SELECT id FROM committee_roles WHERE id = ${e.committeeRoleId}`);
  if (!exists) throw new CommitteeError('ROLE_NOT_FOUND', 'committeeRoleId', `no committee role ${e.committeeRoleId}`);
  throw new CommitteeError('ROLE_NOT_OPEN', 'committeeRoleId', 'the role has already ended, or validTo is not after its start');
}

const HeadContact = z.object({ email: z.string(), name: z.string() });

/** The committee's heads today, with the address to tell them of an application waiting for them. */
export async function currentHeads(tx: TenantTransaction, committeeId: string): Promise<readonly z.infer<typeof HeadContact>[]> {
  return tx.any(sql.type(HeadContact)`
    SELECT u.email, u.display_name AS name FROM committee_roles r JOIN users u ON u.id = r.user_id
    WHERE r.committee_id = ${committeeId} AND r.role = 'head' AND r.valid_from <= now()
      AND (r.valid_to IS NULL OR r.valid_to > now()) AND u.is_active`);
}
