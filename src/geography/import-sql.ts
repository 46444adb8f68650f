import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { StoredNode } from './hierarchy.ts';
import { GEOGRAPHY_TYPES, type GeographyNode, type GeographyType } from './node.ts';

export interface LevelCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

const Stored = z.object({ code: z.string(), type: z.enum(GEOGRAPHY_TYPES), parent_code: z.string().nullable() });
const Upserted = z.object({ inserted: z.boolean() });
const Count = z.object({ count: z.number().int() });

// Any constant works; it only has to be the same for every process that imports geography.
const IMPORT_LOCK_KEY = 7_340_219_004;

/** Serialises imports so the checks made against stored nodes still hold when writing. */
export async function lockGeographyImports(db: CommonQueryMethods): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${IMPORT_LOCK_KEY})`);
}

export async function loadStoredNodes(db: CommonQueryMethods, codes: readonly string[]): Promise<Map<string, StoredNode>> {
  const rows = await db.any(sql.type(Stored)`
    SELECT n.code, n.type, p.code AS parent_code
    FROM geography_nodes n
    LEFT JOIN geography_nodes p ON p.id = n.parent_id
    WHERE n.code = ANY(${sql.array(codes, 'text')})
  `);
  return new Map(rows.map((row) => [row.code, { code: row.code, type: row.type, parentCode: row.parent_code }]));
}

function tuple(node: GeographyNode) {
  const { code, parentCode, category, nameEn, nameNe, wardNumber, isActive, validFrom, validTo } = node;
  return [code, parentCode, category, nameEn, nameNe, wardNumber, isActive, validFrom, validTo];
}

/**
 * Inserts new nodes of one level and updates those whose attributes differ; identical rows
 * are filtered out before the INSERT, so they are neither written nor locked. Parents must
 * already be stored (levels run top down). Type, parent and path never change here.
 */
export async function upsertLevel(db: CommonQueryMethods, type: GeographyType, nodes: readonly GeographyNode[]): Promise<LevelCounts> {
  if (nodes.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  const batch = sql.unnest(nodes.map(tuple), ['text', 'text', 'local_level_category', 'text', 'text', 'int4', 'bool', 'date', 'date']);
  const rows = await db.any(sql.type(Upserted)`
    WITH batch AS (
      SELECT * FROM ${batch}
        AS b (code, parent_code, category, name_en, name_ne, ward_number, is_active, valid_from, valid_to)
    ), changed AS (
      SELECT b.*, p.id AS parent_id, coalesce(p.path || text2ltree(lower(b.code)), text2ltree(lower(b.code))) AS path
      FROM batch b
      LEFT JOIN geography_nodes p ON p.code = b.parent_code
      LEFT JOIN geography_nodes g ON g.code = b.code
      WHERE g.id IS NULL
        OR (g.category, g.name_en, g.name_ne, g.ward_number, g.is_active, g.valid_from, g.valid_to)
          IS DISTINCT FROM (b.category, b.name_en, b.name_ne, b.ward_number, b.is_active, b.valid_from, b.valid_to)
    )
    INSERT INTO geography_nodes
      (code, parent_id, type, category, path, name_en, name_ne, ward_number, is_active, valid_from, valid_to)
    SELECT code, parent_id, ${type}::geography_type, category, path, name_en, name_ne, ward_number, is_active, valid_from, valid_to
    FROM changed
    ON CONFLICT (code) DO UPDATE SET
      category = excluded.category, name_en = excluded.name_en, name_ne = excluded.name_ne,
      ward_number = excluded.ward_number, is_active = excluded.is_active,
      valid_from = excluded.valid_from, valid_to = excluded.valid_to
    RETURNING old.id IS NULL AS inserted
  `);
  const inserted = rows.filter((row) => row.inserted).length;
  const updated = rows.length - inserted;
  return { inserted, updated, unchanged: nodes.length - rows.length };
}

/**
 * Adds the missing closure rows (self rows at depth 0 included) of the given nodes, from
 * their paths: the ancestor at depth k is the node whose path is the path's prefix.
 */
export async function insertMissingClosure(db: CommonQueryMethods, codes: readonly string[]): Promise<number> {
  const row = await db.one(sql.type(Count)`
    WITH inserted AS (
      INSERT INTO geography_closure (ancestor_id, descendant_id, depth)
      SELECT a.id, d.id, nlevel(d.path) - nlevel(a.path)
      FROM geography_nodes d
      CROSS JOIN LATERAL generate_series(1, nlevel(d.path)) AS prefix (length)
      JOIN geography_nodes a ON a.path = subpath(d.path, 0, prefix.length)
      WHERE d.code = ANY(${sql.array(codes, 'text')})
        AND NOT EXISTS (
          SELECT 1 FROM geography_closure c WHERE c.ancestor_id = a.id AND c.descendant_id = d.id
        )
      RETURNING 1
    )
    SELECT count(*)::int4 AS count FROM inserted
  `);
  return row.count;
}
