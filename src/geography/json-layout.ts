import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_VALID_FROM, type GeographyNode, type LocalLevelCategory } from './node.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

const id = z.number().int().positive();
const wardCount = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().positive());

const Province = z.object({ id, name: z.string().min(1) });
const District = z.object({ id, province_id: id, name: z.string().min(1) });
const Municipality = z.object({ id, district_id: id, category_id: id, name: z.string().min(1), wards: wardCount });
const Category = z.object({ id, short_code: z.string() });
const NepaliName = z.object({ id, name: z.string().min(1) });

const CATEGORY_BY_SHORT_CODE: Record<string, LocalLevelCategory> = {
  MC: 'metropolitan',
  SMC: 'sub_metropolitan',
  M: 'municipality',
  RM: 'rural_municipality',
};

export class GeographyLayoutError extends DomainError {
  override readonly name = 'GeographyLayoutError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('GEOGRAPHY_LAYOUT_INVALID', message, options);
  }
}

async function readList<T extends z.ZodType>(dir: string, file: string, schema: T): Promise<z.infer<T>[]> {
  const text = await readFile(path.join(dir, file), 'utf8');
  const parsed = z.array(schema).safeParse(JSON.parse(text));
  if (!parsed.success) throw new GeographyLayoutError(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

async function readNepaliNames(dir: string, file: string): Promise<Map<number, string>> {
  const rows = await readList(dir, file, NepaliName);
  return new Map(rows.map((row) => [row.id, row.name]));
}

export function toDevanagariDigits(value: number): string {
  return String(value).replace(/\d/g, (digit) => String.fromCodePoint(0x0966 + Number(digit)));
}

function baseNode(code: string, parentCode: string | null, nameEn: string, nameNe: string | undefined) {
  return { code, parentCode, nameEn, nameNe: nameNe ?? null, isActive: true, validFrom: DEFAULT_VALID_FROM, validTo: null };
}

function categoryMap(categories: z.infer<typeof Category>[]): Map<number, LocalLevelCategory> {
  return new Map(
    categories.map((row) => {
      const category = CATEGORY_BY_SHORT_CODE[row.short_code];
      if (!category) throw new GeographyLayoutError(`categories.en.json: unknown short_code ${row.short_code}`);
      return [row.id, category];
    }),
  );
}

function wardNodes(localCode: string, count: number, nameEn: string, nameNe: string | undefined): GeographyNode[] {
  return Array.from({ length: count }, (_, index) => {
    const ward = index + 1;
    const ne = nameNe === undefined ? undefined : `${nameNe} वडा ${toDevanagariDigits(ward)}`;
    const node = baseNode(`${localCode}_W${ward}`, localCode, `${nameEn} Ward ${ward}`, ne);
    return { ...node, type: 'ward' as const, category: null, wardNumber: ward };
  });
}

/**
 * Reads the folder layout of provinces/districts/municipalities/categories (*.en.json with
 * *.np.json names matched by id) into nodes, wards 1..N generated from each local level's count.
 * @throws GeographyLayoutError when a file does not have the expected shape.
 */
export async function parseJsonLayout(dir: string): Promise<GeographyNode[]> {
  const [provinces, districts, municipalities, categories] = await Promise.all([
    readList(dir, 'provinces.en.json', Province),
    readList(dir, 'districts.en.json', District),
    readList(dir, 'municipalities.en.json', Municipality),
    readList(dir, 'categories.en.json', Category),
  ]);
  const [provincesNe, districtsNe, municipalitiesNe] = await Promise.all(
    ['provinces', 'districts', 'municipalities'].map((name) => readNepaliNames(dir, `${name}.np.json`)),
  );
  const categoryOf = categoryMap(categories);
  const nodes: GeographyNode[] = [];
  for (const row of provinces) {
    const node = baseNode(`P${row.id}`, null, row.name, provincesNe?.get(row.id));
    nodes.push({ ...node, type: 'province', category: null, wardNumber: null });
  }
  for (const row of districts) {
    const node = baseNode(`D${row.id}`, `P${row.province_id}`, row.name, districtsNe?.get(row.id));
    nodes.push({ ...node, type: 'district', category: null, wardNumber: null });
  }
  for (const row of municipalities) {
    const category = categoryOf.get(row.category_id);
    if (!category) throw new GeographyLayoutError(`municipalities.en.json: id ${row.id} has unknown category_id ${row.category_id}`);
    const nameNe = municipalitiesNe?.get(row.id);
    const node = baseNode(`L${row.id}`, `D${row.district_id}`, row.name, nameNe);
    nodes.push({ ...node, type: 'local_level', category, wardNumber: null });
    nodes.push(...wardNodes(node.code, row.wards, row.name, nameNe));
  }
  return nodes;
}
