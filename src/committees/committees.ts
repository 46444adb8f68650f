import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { validToday } from '../geography/validity.ts';
import { CommitteeError } from './committee-error.ts';

export const NewCommitteeSchema = z
  .object({
    geographyCode: z.string().trim().regex(/^[A-Za-z0-9_]+$/, 'letters, digits and underscores').optional(),
    geographyId: z.uuid().optional(),
    name: z.string().trim().min(1).max(200),
  })
  .refine((c) => (c.geographyCode === undefined) !== (c.geographyId === undefined), {
    path: ['geographyCode'],
    message: 'give exactly one of geographyCode or geographyId',
  });
export type NewCommittee = z.input<typeof NewCommitteeSchema>;

export const CommitteeSchema = z.object({
  id: z.string(),
  name: z.string(),
  geographyId: z.string(),
  geographyCode: z.string(),
});
export type Committee = z.infer<typeof CommitteeSchema>;

const GeographyNode = z.object({ id: z.string(), code: z.string() });
const ParentRow = z.object({ id: z.string().nullable(), name: z.string().nullable(), geographyId: z.string().nullable(), geographyCode: z.string().nullable() });

/**
 * Creates the tenant's committee on one geography node valid today (found by code or id; active, within its dates).
 * @throws ZodError naming the bad field; CommitteeError GEOGRAPHY_NOT_FOUND, or COMMITTEE_EXISTS
 * when the node already has an undissolved committee.
 */
export async function createCommittee(tx: TenantTransaction, tenantId: string, input: NewCommittee): Promise<Committee> {
  const c = NewCommitteeSchema.parse(input);
  const field = c.geographyId === undefined ? 'geographyCode' : 'geographyId';
  const match = c.geographyId === undefined ? sql.fragment`g.code = ${c.geographyCode ?? ''}` : sql.fragment`g.id = ${c.geographyId}`;
  const node = await tx.maybeOne(sql.type(GeographyNode)`SELECT g.id, g.code FROM geography_nodes g WHERE ${match} AND ${validToday('g')}`);
  if (!node) throw new CommitteeError('GEOGRAPHY_NOT_FOUND', field, `no active geography node "${c.geographyId ?? c.geographyCode}"`);
  // ON CONFLICT against the partial unique index: a concurrent create loses cleanly
  // instead of aborting the caller's transaction.
  const id = await tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO committees (tenant_id, geography_id, name) VALUES (${tenantId}, ${node.id}, ${c.name})
    ON CONFLICT (tenant_id, geography_id) WHERE dissolved_at IS NULL DO NOTHING
    RETURNING id`);
  if (!id) throw new CommitteeError('COMMITTEE_EXISTS', field, `geography node ${node.code} already has a committee`);
  return { id, name: c.name, geographyId: node.id, geographyCode: node.code };
}

/** The tenant's committee with this id, dissolved or not, or null. */
export async function findCommittee(tx: TenantTransaction, committeeId: string): Promise<Committee | null> {
  if (!z.uuid().safeParse(committeeId).success) return null;
  return tx.maybeOne(sql.type(CommitteeSchema)`
    SELECT c.id, c.name, c.geography_id AS "geographyId", g.code AS "geographyCode"
    FROM committees c JOIN geography_nodes g ON g.id = c.geography_id
    WHERE c.id = ${committeeId}`);
}

/**
 * The committee above this one: the undissolved committee on the nearest ancestor of its
 * geography node (covering_committee of the parent node), or null at the top.
 * @throws CommitteeError COMMITTEE_NOT_FOUND.
 */
export async function parentCommittee(tx: TenantTransaction, committeeId: string): Promise<Committee | null> {
  const row = z.uuid().safeParse(committeeId).success
    ? await tx.maybeOne(sql.type(ParentRow)`
        SELECT p.id, p.name, p.geography_id AS "geographyId", pg.code AS "geographyCode"
        FROM committees c
        JOIN geography_nodes g ON g.id = c.geography_id
        LEFT JOIN committees p ON p.id = covering_committee(g.parent_id)
        LEFT JOIN geography_nodes pg ON pg.id = p.geography_id
        WHERE c.id = ${committeeId}`)
    : null;
  if (!row) throw new CommitteeError('COMMITTEE_NOT_FOUND', 'committeeId', `no committee ${committeeId}`);
  if (row.id === null || row.name === null || row.geographyId === null || row.geographyCode === null) return null;
  return { id: row.id, name: row.name, geographyId: row.geographyId, geographyCode: row.geographyCode };
}

const CommitteeViewSchema = z.object({ id: z.string(), name: z.string(), geographyId: z.string() });

/** The tenant's committees with these ids, as API resources show them. */
export async function committeeViews(tx: TenantTransaction, ids: string[]): Promise<readonly z.infer<typeof CommitteeViewSchema>[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(CommitteeViewSchema)`
    SELECT id, name, geography_id AS "geographyId" FROM committees WHERE id = ANY(${sql.array(ids, 'uuid')})`);
}
