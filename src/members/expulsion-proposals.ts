import { sql } from 'slonik';
import { z } from 'zod';
import { exactTime } from '../db/exact-time.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';

/** A proposed expulsion waiting for a head of the parent committee of the committee that proposed it. */
export const PendingExpulsionSchema = z.object({
  memberId: z.string(),
  proposedBy: z.string(),
  reasonCode: z.string(),
  proposedAt: z.number(),
  committeeId: z.string(),
  committeeName: z.string(),
  /** Whose heads confirm: the committee above the proposing one; null when none is above it. */
  parentCommitteeId: z.string().nullable(),
  /** proposedAt to the microsecond, for the next page. */
  position: z.string(),
});
export type PendingExpulsion = z.infer<typeof PendingExpulsionSchema>;

export interface PendingExpulsionSearch {
  /** Only proposals these committees' heads confirm (the parent of the proposing committee is one of them). */
  confirmedByCommittees?: readonly string[] | undefined;
  /** Leave out what this actor proposed: nobody confirms their own proposal. */
  notProposedBy?: string | undefined;
  after?: { proposedAt: string; memberId: string } | undefined;
  limit: number;
}

/**
 * Expulsions proposed and not yet confirmed, oldest first. Read from the event store: the
 * proposal is a `MemberExpulsionProposed` event, and only an event that ends the membership
 * (expelled, resigned, deceased) clears it, so a proposal of a member still active is pending.
 * Proposals are few; the event-type index finds them.
 */
export async function pendingExpulsions(tx: TenantTransaction, search: PendingExpulsionSearch): Promise<readonly PendingExpulsion[]> {
  const where = [sql.fragment`e.aggregate_type = 'Member' AND e.event_type = 'MemberExpulsionProposed' AND m.status = 'active'`];
  if (search.confirmedByCommittees) where.push(sql.fragment`p.id = ANY(${sql.array([...search.confirmedByCommittees], 'uuid')})`);
  if (search.notProposedBy) where.push(sql.fragment`e.payload ->> 'by' <> ${search.notProposedBy}`);
  if (search.after) {
    const at = sql.fragment`${search.after.proposedAt}::timestamptz`;
    where.push(sql.fragment`e.recorded_at >= ${at} AND (e.recorded_at > ${at} OR e.aggregate_id > ${search.after.memberId}::uuid)`);
  }
  return tx.any(sql.type(PendingExpulsionSchema)`
    SELECT e.aggregate_id AS "memberId", e.payload ->> 'by' AS "proposedBy", e.payload ->> 'reasonCode' AS "reasonCode",
           e.recorded_at AS "proposedAt", ${exactTime(sql.fragment`e.recorded_at`)} AS position, c.id AS "committeeId", c.name AS "committeeName", p.id AS "parentCommitteeId"
    FROM event_store e
    JOIN members m ON m.id = e.aggregate_id
    JOIN committees c ON c.id = (e.payload ->> 'committeeId')::uuid
    JOIN geography_nodes cg ON cg.id = c.geography_id
    LEFT JOIN committees p ON p.id = covering_committee(cg.parent_id)
    WHERE ${sql.join(where, sql.fragment` AND `)}
    ORDER BY e.recorded_at, e.aggregate_id LIMIT ${search.limit}`);
}
