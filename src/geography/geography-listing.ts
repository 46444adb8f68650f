import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { GEOGRAPHY_TYPES, type GeographyType } from './node.ts';

/** One node as the public listing shows it. */
export const ListedNodeSchema = z.object({
  id: z.string(),
  parentId: z.string().nullable(),
  type: z.enum(GEOGRAPHY_TYPES),
  category: z.string().nullable(),
  code: z.string(),
  nameEn: z.string(),
  nameNe: z.string().nullable(),
  wardNumber: z.number().nullable(),
  path: z.string(),
  validFrom: z.string(),
  validTo: z.string().nullable(),
});
export type ListedNode = z.infer<typeof ListedNodeSchema>;

export interface GeographyListing {
  parentId?: string | undefined;
  type?: GeographyType | undefined;
  /** A part of the English or Nepali name, any case. */
  name?: string | undefined;
  /** The day (YYYY-MM-DD) on which the nodes must be valid. */
  on: string;
  /** Nodes after this one in the listing's order (ward number, then English name, then id). */
  after?: { wardNumber: number; nameEn: string; id: string } | undefined;
  limit: number;
}

const likePattern = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Geography nodes in force on a day (active, valid_from on or before it, valid_to on or after
 * it), by parent, type and name; wards in number order, other nodes in name order. Shared reference data: no tenant is involved.
 */
export async function listGeography(db: CommonQueryMethods, listing: GeographyListing): Promise<readonly ListedNode[]> {
  const conditions = [
    sql.fragment`is_active`,
    sql.fragment`valid_from <= ${listing.on}::date`,
    sql.fragment`(valid_to IS NULL OR valid_to >= ${listing.on}::date)`,
  ];
  if (listing.parentId) conditions.push(sql.fragment`parent_id = ${listing.parentId}`);
  if (listing.type) conditions.push(sql.fragment`type = ${listing.type}::geography_type`);
  if (listing.name) {
    const pattern = likePattern(listing.name);
    conditions.push(sql.fragment`(name_en ILIKE ${pattern} OR name_ne ILIKE ${pattern})`);
  }
  if (listing.after) conditions.push(sql.fragment`(coalesce(ward_number, 0), name_en, id) > (${listing.after.wardNumber}, ${listing.after.nameEn}, ${listing.after.id}::uuid)`);
  return db.any(sql.type(ListedNodeSchema)`
    SELECT id, parent_id AS "parentId", type::text AS type, category::text AS category, code, name_en AS "nameEn", name_ne AS "nameNe",
           ward_number AS "wardNumber", path::text AS path, to_char(valid_from, 'YYYY-MM-DD') AS "validFrom", to_char(valid_to, 'YYYY-MM-DD') AS "validTo"
    FROM geography_nodes
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY coalesce(ward_number, 0), name_en, id
    LIMIT ${listing.limit}`);
}
