import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { GeographyViewSchema, type GeographyView } from '../geography/geography-queries.ts';
import { MEMBER_STATUSES, type MemberStatus } from '../members/member-status.ts';

export interface GeographyStatistics {
  /** Every status, zeros included. */
  byStatus: Record<MemberStatus, number>;
  total: number;
}

// Fails loudly if the member_status enum gains a value the aggregate does not know.
const StatusCount = z.object({ status: z.enum(MEMBER_STATUSES), count: z.number().int() });

/**
 * Members per status in the node's whole subtree, for the transaction's tenant, from the
 * read model that migrations/0012 keeps per ward: the sum over the node's descendants (and
 * itself) in geography_closure. An unknown node counts zero everywhere.
 */
export async function readStatistics(tx: TenantTransaction, nodeId: string): Promise<GeographyStatistics> {
  return tally(await tx.any(sql.type(StatusCount)`${statusCounts(nodeId)}`));
}

/** The counts per status of the node's subtree, one row per status (readStatistics). */
function statusCounts(nodeId: string): FragmentSqlToken {
  // ANY(ARRAY(...)) rather than a join: one index scan of the primary key over the subtree's
  // wards, which the planner keeps even when one tenant owns most rows (a join turned into a
  // sequential scan of the whole table there; docs/statistics.md).
  return sql.fragment`
    SELECT s.status::text AS status, coalesce(sum(m.member_count), 0)::int AS count
    FROM unnest(enum_range(NULL::member_status)) AS s (status)
    LEFT JOIN member_statistics m ON m.status = s.status AND m.tenant_id = app_current_tenant()
      AND m.geography_id = ANY (ARRAY(SELECT descendant_id FROM geography_closure WHERE ancestor_id = ${nodeId}))
    GROUP BY s.status`;
}

function tally(rows: readonly z.infer<typeof StatusCount>[]): GeographyStatistics {
  const byStatus = Object.fromEntries(MEMBER_STATUSES.map((status) => [status, 0])) as Record<MemberStatus, number>;
  for (const row of rows) byStatus[row.status] = row.count;
  return { byStatus, total: rows.reduce((sum, row) => sum + row.count, 0) };
}

const NodeStatistics = GeographyViewSchema.extend({ counts: z.array(StatusCount) });

/**
 * The node and readStatistics' counts of its subtree in one statement; null when there is no
 * such node. (Counted before the caller's access to the node is checked: nothing of it is
 * answered to a caller who may not see it.)
 */
export async function readNodeStatistics(tx: TenantTransaction, nodeId: string): Promise<{ node: GeographyView; statistics: GeographyStatistics } | null> {
  const row = await tx.maybeOne(sql.type(NodeStatistics)`
    SELECT id, type::text AS type, code, name_en AS "nameEn", name_ne AS "nameNe", path::text AS path,
      (SELECT json_agg(c) FROM (${statusCounts(nodeId)}) c) AS counts
    FROM geography_nodes WHERE id = ${nodeId}`);
  if (!row) return null;
  const { counts, ...node } = row;
  return { node, statistics: tally(counts) };
}

/**
 * Repairs the tenant's read model: makes every row equal to a full recount of its members,
 * in the caller's transaction, without stopping concurrent lifecycle changes (the correction
 * is computed in one snapshot and applied as a delta; see migrations/0012).
 * @returns how many (ward, status, slot) rows were wrong.
 * @throws slonik's error (insufficient_privilege) when tenantId is not the transaction's tenant.
 */
export async function recountStatistics(tx: TenantTransaction, tenantId: string): Promise<{ correctedRows: number }> {
  const correctedRows = await tx.oneFirst(sql.type(z.object({ corrected: z.number().int() }))`
    SELECT recount_member_statistics(${tenantId}) AS corrected`);
  return { correctedRows };
}

const NodeStatusCount = z.object({ nodeId: z.string(), status: z.enum(MEMBER_STATUSES), count: z.number().int() });

/** readStatistics for several nodes in one statement (the GraphQL API batches them); every node given is in the answer. */
export async function readStatisticsOfNodes(tx: TenantTransaction, nodeIds: readonly string[]): Promise<Map<string, GeographyStatistics>> {
  const out = new Map<string, GeographyStatistics>();
  for (const id of nodeIds) out.set(id, { byStatus: Object.fromEntries(MEMBER_STATUSES.map((status) => [status, 0])) as Record<MemberStatus, number>, total: 0 });
  if (nodeIds.length === 0) return out;
  const rows = await tx.any(sql.type(NodeStatusCount)`
    SELECT n.id AS "nodeId", s.status::text AS status, coalesce(sum(m.member_count), 0)::int AS count
    FROM unnest(${sql.array([...nodeIds], 'uuid')}) AS n (id)
    CROSS JOIN unnest(enum_range(NULL::member_status)) AS s (status)
    LEFT JOIN member_statistics m ON m.status = s.status AND m.tenant_id = app_current_tenant()
      AND m.geography_id = ANY (ARRAY(SELECT descendant_id FROM geography_closure WHERE ancestor_id = n.id))
    GROUP BY n.id, s.status`);
  for (const row of rows) {
    const stats = out.get(row.nodeId)!;
    stats.byStatus[row.status] = row.count;
    stats.total += row.count;
  }
  return out;
}
