import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { MEMBER_STATUSES } from './member-status.ts';

export const MemberViewSchema = z.object({
  id: z.string(),
  status: z.enum(MEMBER_STATUSES),
  fullNameEn: z.string(),
  fullNameNe: z.string().nullable(),
  gender: z.string(),
  memberNumber: z.string().nullable(),
  wardId: z.string(),
  geographyPath: z.string(),
  committeeId: z.string().nullable(),
  workflowId: z.string().nullable(),
  registeredAt: z.number(),
  approvedAt: z.number().nullable(),
  activatedAt: z.number().nullable(),
  phoneEnc: z.instanceof(Buffer),
  emailEnc: z.instanceof(Buffer).nullable(),
  dateOfBirthEnc: z.instanceof(Buffer).nullable(),
  addressEnc: z.instanceof(Buffer).nullable(),
  citizenshipNoEnc: z.instanceof(Buffer).nullable(),
  statusTokenHash: z.instanceof(Buffer).nullable(),
  statusReason: z.string().nullable(),
  statusChangedAt: z.number().nullable(),
  suspendedUntil: z.number().nullable(),
});
export type MemberView = z.infer<typeof MemberViewSchema>;

const columns = sql.fragment`
  m.id, m.status::text AS status, m.full_name_en AS "fullNameEn", m.full_name_ne AS "fullNameNe", m.gender,
  m.member_number AS "memberNumber", m.ward_id AS "wardId", m.geography_path::text AS "geographyPath",
  m.committee_id AS "committeeId", m.workflow_id AS "workflowId", m.registered_at AS "registeredAt",
  m.approved_at AS "approvedAt", m.activated_at AS "activatedAt", m.phone_enc AS "phoneEnc", m.email_enc AS "emailEnc",
  m.date_of_birth_enc AS "dateOfBirthEnc", m.address_enc AS "addressEnc", m.citizenship_no_enc AS "citizenshipNoEnc",
  m.status_token_hash AS "statusTokenHash", m.status_reason AS "statusReason", m.status_changed_at AS "statusChangedAt",
  m.suspended_until AS "suspendedUntil"`;

export async function findMember(tx: TenantTransaction, memberId: string): Promise<MemberView | null> {
  return tx.maybeOne(sql.type(MemberViewSchema)`SELECT ${columns} FROM members m WHERE m.id = ${memberId}`);
}

const RegistrationSchema = z.object({ registeredAt: z.number(), committeeId: z.string().nullable(), applicationDigest: z.instanceof(Buffer).nullable() });

/** How the member's application was taken: when, for which committee, and its digest (null for imported members). */
export async function findRegistration(tx: TenantTransaction, memberId: string): Promise<z.infer<typeof RegistrationSchema> | null> {
  return tx.maybeOne(sql.type(RegistrationSchema)`
    SELECT registered_at AS "registeredAt", committee_id AS "committeeId", application_digest AS "applicationDigest" FROM members WHERE id = ${memberId}`);
}

/** Whether the member exists in the transaction's tenant. */
export async function memberExists(tx: TenantTransaction, memberId: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM members WHERE id = ${memberId}`);
}

/** The ltree path of the member's ward: who may see the member depends on it. */
export async function memberGeographyPath(tx: TenantTransaction, memberId: string): Promise<string | null> {
  return tx.maybeOneFirst(sql.type(z.object({ path: z.string() }))`SELECT geography_path::text AS path FROM members WHERE id = ${memberId}`);
}

export interface MemberSearch {
  name?: string | undefined;
  /** Blind indexes of one phone: under the current key, and the previous one during a re-index. */
  phoneBidx?: readonly Buffer[] | undefined;
  status?: string | undefined;
  /** ltree path of a geography node: the member's ward lies in its subtree. */
  geographyPath?: string | undefined;
  committeeId?: string | undefined;
  registeredFrom?: string | undefined;
  registeredTo?: string | undefined;
  /** Only members inside one of these subtrees (a committee head's areas). */
  withinPaths?: string[] | undefined;
  after?: { registeredAt: string; id: string } | undefined;
  /** Oldest first (a head's inbox: who has waited longest) instead of newest first. */
  oldestFirst?: boolean | undefined;
  limit: number;
}

/**
 * Members in the subtree of a geography node, as a leakproof filter that an ordered index can
 * serve (migrations/0015): the generated province/district/local-level keys of the member's
 * path for the first three levels, the ward itself below them.
 */
function inSubtree(path: string): FragmentSqlToken {
  const depth = path.split('.').length;
  if (depth === 1) return sql.fragment`m.province_key = ${path}`;
  if (depth === 2) return sql.fragment`m.district_key = ${path}`;
  if (depth === 3) return sql.fragment`m.local_level_key = ${path}`;
  return sql.fragment`m.ward_id = (SELECT g.id FROM geography_nodes g WHERE g.path = ${path}::ltree)`;
}

/**
 * Keyset-paginated search, newest first (or oldest first: the same indexes, walked backward). Every filter is written with operators that row-level
 * security lets become index conditions, so each combination walks one index in page order
 * (docs/search.md has the plans at a million members).
 */
export async function searchMembers(tx: TenantTransaction, search: MemberSearch): Promise<readonly MemberView[]> {
  return tx.any(sql.type(MemberViewSchema)`${memberSearchQuery(search)}`);
}

/** The search's SQL, for searchMembers and for checking its plans. */
export function memberSearchQuery(search: MemberSearch): FragmentSqlToken {
  const where: FragmentSqlToken[] = [sql.fragment`TRUE`];
  if (search.name) {
    const pattern = `%${search.name.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(sql.fragment`(m.full_name_en ILIKE ${pattern} OR m.full_name_ne ILIKE ${pattern})`);
  }
  if (search.phoneBidx?.length) where.push(sql.fragment`m.phone_bidx IN (${sql.join(search.phoneBidx.map((b) => sql.binary(b)), sql.fragment`, `)})`);
  if (search.status) where.push(sql.fragment`m.status = ${search.status}::member_status`);
  if (search.geographyPath) where.push(inSubtree(search.geographyPath));
  if (search.committeeId) where.push(sql.fragment`m.committee_id = ${search.committeeId}`);
  if (search.registeredFrom) where.push(sql.fragment`m.registered_at >= ${search.registeredFrom}::timestamptz`);
  if (search.registeredTo) where.push(sql.fragment`m.registered_at < ${search.registeredTo}::timestamptz`);
  if (search.withinPaths) {
    where.push(search.withinPaths.length ? sql.fragment`(${sql.join(search.withinPaths.map(inSubtree), sql.fragment` OR `)})` : sql.fragment`FALSE`);
  }
  if (search.after) {
    const at = sql.fragment`${search.after.registeredAt}::timestamptz`;
    where.push(search.oldestFirst
      ? sql.fragment`m.registered_at >= ${at} AND (m.registered_at > ${at} OR m.id > ${search.after.id}::uuid)`
      : sql.fragment`m.registered_at <= ${at} AND (m.registered_at < ${at} OR m.id < ${search.after.id}::uuid)`);
  }
  const order = search.oldestFirst ? sql.fragment`m.registered_at, m.id` : sql.fragment`m.registered_at DESC, m.id DESC`;
  return sql.fragment`
    SELECT ${columns} FROM members m WHERE ${sql.join(where, sql.fragment` AND `)}
    ORDER BY ${order} LIMIT ${search.limit}`;
}

/** The members with these ids (those of the transaction's tenant), in no particular order: one round trip for a batch. */
export async function findMembers(tx: TenantTransaction, ids: readonly string[]): Promise<readonly MemberView[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(MemberViewSchema)`SELECT ${columns} FROM members m WHERE m.id = ANY(${sql.array([...ids], 'uuid')})`);
}

/**
 * The newest `limit` members of each of these committees (optionally of one status and inside
 * some subtrees), in one statement: a lateral page per committee, for a batch of committees.
 */
export async function membersOfCommittees(tx: TenantTransaction, committeeIds: readonly string[], options: { limit: number; status?: string | undefined; withinPaths?: string[] | undefined }): Promise<readonly MemberView[]> {
  if (committeeIds.length === 0) return [];
  const where: FragmentSqlToken[] = [sql.fragment`m.committee_id = c.id`];
  if (options.status) where.push(sql.fragment`m.status = ${options.status}::member_status`);
  if (options.withinPaths) {
    where.push(options.withinPaths.length ? sql.fragment`(${sql.join(options.withinPaths.map(inSubtree), sql.fragment` OR `)})` : sql.fragment`FALSE`);
  }
  return tx.any(sql.type(MemberViewSchema)`
    SELECT page.* FROM unnest(${sql.array([...committeeIds], 'uuid')}) AS c (id)
    CROSS JOIN LATERAL (
      SELECT ${columns} FROM members m WHERE ${sql.join(where, sql.fragment` AND `)}
      ORDER BY m.registered_at DESC, m.id DESC LIMIT ${options.limit}
    ) AS page`);
}
