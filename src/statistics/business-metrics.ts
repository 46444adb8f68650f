import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabasePool } from '../db/pool.ts';

/*
 * The business figures the private ops listener reports (docs/observability.md, "Business
 * metrics"): per party, events so far by type, members by status, and how long the longest
 * waiting applicant has waited in each stage. Read from the database at scrape time by one
 * statement (migrations/0037 business_metrics()), so every API process reports the same figures,
 * a restart loses none, and several processes never add up to more than there is.
 */

const MetricRow = z.object({
  party: z.string(),
  metric: z.enum(['events', 'members', 'oldest_waiting_seconds']),
  label: z.string(),
  value: z.number(),
});
export type BusinessMetricRow = z.infer<typeof MetricRow>;

export interface BusinessMetricsSnapshot {
  rows: readonly BusinessMetricRow[];
  /** When the statement ran (ms since the epoch). */
  readAt: number;
}

/** Every party's figures, in one statement. */
export async function readBusinessMetrics(pool: DatabasePool): Promise<BusinessMetricsSnapshot> {
  const rows = await pool.any(sql.type(MetricRow)`SELECT party, metric, label, value FROM business_metrics()`);
  return { rows, readAt: Date.now() };
}

/**
 * readBusinessMetrics, at most once per `maxAgeMs` however many scrapers ask: concurrent scrapes
 * share one statement in flight, and a failed read is not kept (the next scrape tries again).
 */
export function cachedBusinessMetrics(pool: DatabasePool, maxAgeMs = 5_000, clock: () => number = Date.now): () => Promise<BusinessMetricsSnapshot> {
  let current: { at: number; snapshot: Promise<BusinessMetricsSnapshot> } | undefined;
  return () => {
    const now = clock();
    if (!current || now - current.at >= maxAgeMs) {
      const snapshot = readBusinessMetrics(pool);
      const entry = { at: now, snapshot };
      current = entry;
      snapshot.catch(() => {
        if (current === entry) current = undefined;
      });
    }
    return current.snapshot;
  };
}
