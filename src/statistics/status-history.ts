import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { MEMBER_STATUSES, type MemberStatus } from '../members/member-status.ts';
import type { GeographyStatistics } from './member-statistics.ts';

/*
 * Membership as of a date, from the projection migrations/0025 derives from the event store
 * (member_status_effects maps each Member event type to what it does to status and ward).
 * docs/statistics.md, "As of a date", says why it is shaped this way.
 */

const StatusSum = z.object({ status: z.string(), count: z.number().int() });

/**
 * Members per status in the node's whole subtree at the end of `day` (YYYY-MM-DD) in the
 * party's time zone, as the events recorded by then leave them: the sum of the node's daily
 * net changes up to that day. Statuses with no member are absent. An unknown node counts none.
 */
export async function countsAsOf(tx: TenantTransaction, nodeId: string, day: string): Promise<Record<string, number>> {
  const rows = await tx.any(sql.type(StatusSum)`
    SELECT status, sum(delta)::int AS count
    FROM member_status_daily
    WHERE tenant_id = app_current_tenant() AND geography_id = ${nodeId} AND day <= ${day}::date
    GROUP BY status
    HAVING sum(delta) <> 0`);
  return Object.fromEntries(rows.map((row) => [row.status, row.count]));
}

/**
 * countsAsOf in the shape of the current statistics (every status, zeros included).
 * @throws Error when the projection holds a status this build does not know (a migration mapped
 *   an event to a status the member_status enum lacks): loudly, like readStatistics.
 */
export async function readStatisticsAsOf(tx: TenantTransaction, nodeId: string, day: string): Promise<GeographyStatistics> {
  const counts = await countsAsOf(tx, nodeId, day);
  const byStatus = Object.fromEntries(MEMBER_STATUSES.map((status) => [status, 0])) as Record<MemberStatus, number>;
  for (const [status, count] of Object.entries(counts)) {
    if (!(MEMBER_STATUSES as readonly string[]).includes(status)) throw new Error(`member_status_daily holds status "${status}", which is not a member status`);
    byStatus[status as MemberStatus] = count;
  }
  return { byStatus, total: Object.values(counts).reduce((sum, n) => sum + n, 0) };
}

export interface RebuildOutcome {
  /** Member moves (status or ward changes) the events hold. */
  changes: number;
  /** (node, day, status) rows written. */
  dailyRows: number;
  /** Rows whose sum differed from what the incremental projection held before the rebuild. */
  differingRows: number;
  /** Member event types in the party's events that member_status_effects does not map. */
  unmappedEventTypes: string[];
}

/**
 * Derives the tenant's as-of projection again from its events alone, in the caller's
 * transaction (which it holds the tenant's event chain head for: appends wait until it commits),
 * with no statement timeout for the rest of that transaction.
 * @throws slonik's error (insufficient_privilege) when tenantId is not the transaction's tenant.
 */
export async function rebuildStatusHistory(tx: TenantTransaction, tenantId: string): Promise<RebuildOutcome> {
  // One statement over every event of the party: minutes at a million members, past the pool's
  // statement timeout (30 s), which guards request paths, not this operator's command.
  await tx.query(sql.unsafe`SET LOCAL statement_timeout = 0`);
  const outcome = await tx.one(sql.type(z.object({ changes: z.number().int(), dailyRows: z.number().int(), differingRows: z.number().int() }))`
    SELECT changes, daily_rows AS "dailyRows", differing_rows AS "differingRows" FROM rebuild_member_status_history(${tenantId})`);
  return { ...outcome, unmappedEventTypes: await unmappedMemberEventTypes(tx) };
}

/** Event types on the tenant's Member streams that member_status_effects has no row for. */
export async function unmappedMemberEventTypes(tx: TenantTransaction): Promise<string[]> {
  const types = await tx.anyFirst(sql.type(z.object({ type: z.string() }))`
    SELECT DISTINCT e.event_type AS type FROM event_store e
    WHERE e.tenant_id = app_current_tenant() AND e.aggregate_type = 'Member'
      AND NOT EXISTS (SELECT 1 FROM member_status_effects f WHERE f.event_type = e.event_type)
    ORDER BY 1`);
  return [...types];
}

/** The mapping, as stored: for tests and operators. */
export async function statusEffects(tx: TenantTransaction): Promise<{ eventType: string; status: string | null; wardKey: string | null; removes: boolean }[]> {
  const rows = await tx.any(sql.type(z.object({ eventType: z.string(), status: z.string().nullable(), wardKey: z.string().nullable(), removes: z.boolean() }))`
    SELECT event_type AS "eventType", status, ward_key AS "wardKey", removes FROM member_status_effects ORDER BY event_type`);
  return [...rows];
}
