import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/** A member's ward and committee by name, as applicants and staff read them (not only their ids). */
export interface MemberPlace {
  /** "Ward 4, Kathmandu Metropolitan City", and in Nepali when the geography has the names. */
  wardName: { en: string; ne: string | null };
  committeeName: string | null;
}

const DEVANAGARI_DIGITS = '०१२३४५६७८९';
const inDevanagari = (n: number) => String(n).replace(/\d/g, (d) => DEVANAGARI_DIGITS[Number(d)]!);

const WardSchema = z.object({ id: z.string(), wardNumber: z.number().nullable(), nameEn: z.string(), nameNe: z.string().nullable(),
  parentEn: z.string().nullable(), parentNe: z.string().nullable() });
const CommitteeSchema = z.object({ id: z.string(), name: z.string() });
const PlacesSchema = z.object({ wards: z.array(WardSchema), committees: z.array(CommitteeSchema) });

/**
 * The names of these wards and committees, one statement for any number of members. A ward's
 * name is its number within its local level; a node that is no ward is named as it is.
 */
export async function memberPlaces(tx: TenantTransaction, refs: readonly { wardId: string; committeeId: string | null }[]):
  Promise<(ref: { wardId: string; committeeId: string | null }) => MemberPlace> {
  const wardIds = [...new Set(refs.map((r) => r.wardId))];
  const committeeIds = [...new Set(refs.flatMap((r) => (r.committeeId ? [r.committeeId] : [])))];
  // It runs even for no ids: a status link for an unknown id costs what a known one does.
  const { wards, committees } = await tx.one(sql.type(PlacesSchema)`
    SELECT
      (SELECT coalesce(json_agg(json_build_object('id', w.id, 'wardNumber', w.ward_number, 'nameEn', w.name_en, 'nameNe', w.name_ne,
                                                  'parentEn', p.name_en, 'parentNe', p.name_ne)), '[]')
       FROM geography_nodes w LEFT JOIN geography_nodes p ON p.id = w.parent_id WHERE w.id = ANY(${sql.array(wardIds, 'uuid')})) AS wards,
      (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name)), '[]')
       FROM committees c WHERE c.id = ANY(${sql.array(committeeIds, 'uuid')})) AS committees`);
  const wardById = new Map(wards.map((w) => [w.id, w]));
  const committeeById = new Map(committees.map((c) => [c.id, c.name]));
  return ({ wardId, committeeId }) => {
    const ward = wardById.get(wardId);
    return { wardName: ward ? wardName(ward) : { en: wardId, ne: null }, committeeName: committeeId ? committeeById.get(committeeId) ?? null : null };
  };
}

function wardName(ward: z.infer<typeof WardSchema>): MemberPlace['wardName'] {
  if (ward.wardNumber === null || ward.parentEn === null) return { en: ward.nameEn, ne: ward.nameNe };
  return {
    en: `Ward ${ward.wardNumber}, ${ward.parentEn}`,
    ne: ward.parentNe ? `वडा नं. ${inDevanagari(ward.wardNumber)}, ${ward.parentNe}` : null,
  };
}
