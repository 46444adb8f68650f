import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/** One node's dues on one day; `geographyId` null is the national level (the party as a whole). */
export const DuesFigureSchema = z.object({
  day: z.string(),
  level: z.enum(['national', 'province', 'district', 'local_level']),
  geographyId: z.string().nullable(),
  currency: z.string(),
  amountMinor: z.number().int(),
  allocations: z.number().int(),
});
export type DuesFigure = z.infer<typeof DuesFigureSchema>;

/**
 * Totals per node and day from dues_daily (migrations/0026), for the transaction's party, days
 * `from` to `to` inclusive (party time zone). With a node: that node and the nodes under it;
 * without: every node and the national level. Only the partitions of the months asked are read.
 */
export async function readDuesFigures(tx: TenantTransaction, query: { geographyId: string | null; from: string; to: string }): Promise<readonly DuesFigure[]> {
  const area = query.geographyId === null
    ? sql.fragment`true`
    : sql.fragment`d.geography_id = ANY (ARRAY(SELECT descendant_id FROM geography_closure WHERE ancestor_id = ${query.geographyId}))`;
  return tx.any(sql.type(DuesFigureSchema)`
    SELECT to_char(d.day, 'YYYY-MM-DD') AS day, d.level::text AS level, d.geography_id AS "geographyId", d.currency::text AS currency,
           sum(d.amount_minor)::float8 AS "amountMinor", sum(d.allocations)::int AS allocations
    FROM dues_daily d
    WHERE d.tenant_id = app_current_tenant() AND d.day BETWEEN ${query.from}::date AND ${query.to}::date AND ${area}
    GROUP BY d.day, d.level, d.geography_id, d.currency
    ORDER BY d.day, d.level, d.geography_id NULLS FIRST, d.currency`);
}
