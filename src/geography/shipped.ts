import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../db/pool.ts';
import { projectRoot } from '../paths.ts';
import { importGeography } from './import.ts';
import { parseJsonLayout } from './json-layout.ts';

/**
 * Nepal's administrative divisions as the product ships them (7 provinces, 77 districts,
 * 753 local levels, 6,743 wards), in the JSON layout, with their licence and source beside them.
 */
export const SHIPPED_GEOGRAPHY_DIR = path.join(projectRoot, 'data', 'geography', 'nepal');

export type ShippedGeographyOutcome =
  | { imported: true; nodes: number; seconds: number }
  /** The database already holds a geography (shipped, imported by an operator, or another country's): left alone. */
  | { imported: false; storedNodes: number };

const Count = z.object({ count: z.number().int() });

/**
 * Imports the shipped geography when the database holds none, as the owner role. A database
 * that already has nodes is left as it is: an operator's changes (a ward retired with
 * `valid_to`, another country's hierarchy) are never overwritten by the copy in the release.
 * Safe to run on every start and by concurrent starters (the import is an idempotent upsert
 * under an advisory lock).
 */
export async function ensureShippedGeography(ownerUrl: string, dir = SHIPPED_GEOGRAPHY_DIR): Promise<ShippedGeographyOutcome> {
  const pool = await createDatabasePool(ownerUrl, { maximumPoolSize: 1, statementTimeoutMs: 300_000 });
  try {
    const stored = (await pool.one(sql.type(Count)`SELECT count(*)::int4 AS count FROM geography_nodes`)).count;
    if (stored > 0) return { imported: false, storedNodes: stored };
    const started = performance.now();
    const nodes = await parseJsonLayout(dir);
    await importGeography(pool, nodes);
    return { imported: true, nodes: nodes.length, seconds: (performance.now() - started) / 1000 };
  } finally {
    await pool.end();
  }
}

/** One line for a start-up log. */
export function describeShippedGeography(outcome: ShippedGeographyOutcome): string {
  return outcome.imported
    ? `geography: imported Nepal's ${outcome.nodes} divisions shipped in data/geography/nepal (${outcome.seconds.toFixed(1)} s)`
    : `geography: ${outcome.storedNodes} nodes already stored, shipped copy not imported`;
}
