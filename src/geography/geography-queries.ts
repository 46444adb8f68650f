import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

export const GeographyViewSchema = z.object({ id: z.string(), type: z.string(), code: z.string(), nameEn: z.string(), nameNe: z.string().nullable(), path: z.string() });
export type GeographyView = z.infer<typeof GeographyViewSchema>;

export async function geographyNodes(tx: TenantTransaction, ids: string[]): Promise<readonly GeographyView[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(GeographyViewSchema)`
    SELECT id, type::text AS type, code, name_en AS "nameEn", name_ne AS "nameNe", path::text AS path
    FROM geography_nodes WHERE id = ANY(${sql.array(ids, 'uuid')})`);
}

/** One node of the geography tree (shared reference data: every tenant sees the same tree). */
export async function findGeographyNode(tx: TenantTransaction, id: string): Promise<GeographyView | null> {
  return (await geographyNodes(tx, [id]))[0] ?? null;
}

/** Paths by node id, as read: a node's path never changes (imports update names and validity, never the path). */
const paths = new Map<string, string>();

/**
 * The ltree path of a node, or null when there is none. Read once per node and process: a
 * search by area then costs no round trip of its own (the path decides which index the search
 * walks, so it is resolved before the search's SQL is written, not inside it).
 */
export async function geographyPath(tx: TenantTransaction, id: string): Promise<string | null> {
  const known = paths.get(id);
  if (known !== undefined) return known;
  const node = await findGeographyNode(tx, id);
  if (node) paths.set(node.id, node.path);
  return node?.path ?? null;
}
