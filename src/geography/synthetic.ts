import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toDevanagariDigits } from './json-layout.ts';
import type { GeographyType } from './node.ts';

export interface SyntheticShape {
  provinces: number;
  districtsPerProvince: number;
  localLevelsPerDistrict: number;
  wardsPerLocalLevel: number;
}

export const SMALL_SHAPE: SyntheticShape = { provinces: 2, districtsPerProvince: 2, localLevelsPerDistrict: 2, wardsPerLocalLevel: 3 };

const CATEGORIES = [
  { id: 1, en: 'Metropolitan City', ne: 'महानगरपालिका', short_code: 'MC' },
  { id: 2, en: 'Sub-Metropolitan City', ne: 'उपमहानगरपालिका', short_code: 'SMC' },
  { id: 3, en: 'Municipality', ne: 'नगरपालिका', short_code: 'M' },
  { id: 4, en: 'Rural Municipality', ne: 'गाउँपालिका', short_code: 'RM' },
];

type Row = Record<string, string | number>;

/** How many nodes of each type the shape yields. */
export function syntheticCounts(shape: SyntheticShape): Record<GeographyType, number> {
  const district = shape.provinces * shape.districtsPerProvince;
  const localLevel = district * shape.localLevelsPerDistrict;
  return { province: shape.provinces, district, local_level: localLevel, ward: localLevel * shape.wardsPerLocalLevel };
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}

/** The file contents of the JSON layout for a made-up country of the given shape. */
export function syntheticDataset(shape: SyntheticShape = SMALL_SHAPE): Record<string, Row[]> {
  const districts: Row[] = [];
  const municipalities: Row[] = [];
  for (const provinceId of range(shape.provinces)) {
    for (const d of range(shape.districtsPerProvince)) {
      const districtId = (provinceId - 1) * shape.districtsPerProvince + d;
      districts.push({ id: districtId, province_id: provinceId, name: `District ${districtId}` });
      for (const l of range(shape.localLevelsPerDistrict)) {
        const id = (districtId - 1) * shape.localLevelsPerDistrict + l;
        const categoryId = ((id - 1) % CATEGORIES.length) + 1;
        municipalities.push({ id, district_id: districtId, category_id: categoryId, name: `Local Level ${id}`, wards: String(shape.wardsPerLocalLevel) });
      }
    }
  }
  return {
    provinces: range(shape.provinces).map((id) => ({ id, name: `Province ${id}` })),
    districts,
    municipalities,
    categories: CATEGORIES.map(({ id, en, short_code }) => ({ id, name: en, short_code })),
  };
}

const NEPALI_PREFIX: Record<string, string> = { provinces: 'प्रदेश', districts: 'जिल्ला', municipalities: 'पालिका' };

function nepali(rows: Row[], kind: string): Row[] {
  return rows.map((row) => {
    const category = CATEGORIES.find((c) => c.id === row.id);
    const name = kind === 'categories' && category ? category.ne : `${NEPALI_PREFIX[kind]} ${toDevanagariDigits(Number(row.id))}`;
    const translated: Row = { ...row, name };
    if (row.wards !== undefined) translated.wards = toDevanagariDigits(Number(row.wards));
    return translated;
  });
}

/** Writes the synthetic dataset as *.en.json and *.np.json files into `dir`. */
export async function writeSyntheticDataset(dir: string, shape: SyntheticShape = SMALL_SHAPE): Promise<void> {
  await mkdir(dir, { recursive: true });
  const writes = Object.entries(syntheticDataset(shape)).flatMap(([kind, rows]) => [
    writeFile(path.join(dir, `${kind}.en.json`), JSON.stringify(rows, null, 2)),
    writeFile(path.join(dir, `${kind}.np.json`), JSON.stringify(nepali(rows, kind), null, 2)),
  ]);
  await Promise.all(writes);
}
