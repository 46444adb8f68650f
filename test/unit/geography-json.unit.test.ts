import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { batchProblems } from '../../src/geography/hierarchy.ts';
import { GeographyLayoutError, parseJsonLayout, toDevanagariDigits } from '../../src/geography/json-layout.ts';
import { SMALL_SHAPE, syntheticCounts, writeSyntheticDataset } from '../../src/geography/synthetic.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'geography-json-'));
  await writeSyntheticDataset(dir, SMALL_SHAPE);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test('writes Devanagari digits', () => {
  expect(toDevanagariDigits(0)).toBe('०');
  expect(toDevanagariDigits(1234567890)).toBe('१२३४५६७८९०');
});

test('yields every level of the synthetic hierarchy, wards generated from the count', async () => {
  const nodes = await parseJsonLayout(dir);
  const counts = { province: 0, district: 0, local_level: 0, ward: 0 };
  for (const node of nodes) counts[node.type] += 1;
  expect(counts).toEqual(syntheticCounts(SMALL_SHAPE));
  expect(counts).toEqual({ province: 2, district: 4, local_level: 8, ward: 24 });
  expect(batchProblems(nodes)).toEqual([]);
});

test('gives stable codes, categories from short codes and names in both languages', async () => {
  const byCode = new Map((await parseJsonLayout(dir)).map((node) => [node.code, node]));
  expect(byCode.get('P1')).toMatchObject({ parentCode: null, type: 'province', nameEn: 'Province 1', nameNe: 'प्रदेश १' });
  expect(byCode.get('D3')).toMatchObject({ parentCode: 'P2', type: 'district', nameNe: 'जिल्ला ३' });
  expect(byCode.get('L2')).toMatchObject({ parentCode: 'D1', type: 'local_level', category: 'sub_metropolitan' });
  expect(byCode.get('L4')?.category).toBe('rural_municipality');
  expect(byCode.get('L1_W3')).toMatchObject({
    parentCode: 'L1',
    type: 'ward',
    wardNumber: 3,
    nameEn: 'Local Level 1 Ward 3',
    nameNe: 'पालिका १ वडा ३',
    isActive: true,
    validFrom: '2017-03-10',
    validTo: null,
  });
  expect(byCode.has('L1_W4')).toBe(false);
});

test('leaves name_ne empty when the Nepali file lacks the id', async () => {
  await writeFile(path.join(dir, 'provinces.np.json'), JSON.stringify([{ id: 2, name: 'प्रदेश २' }]));
  const nodes = await parseJsonLayout(dir);
  expect(nodes.find((node) => node.code === 'P1')?.nameNe).toBeNull();
  expect(nodes.find((node) => node.code === 'P2')?.nameNe).toBe('प्रदेश २');
});

test('names the file and field of a malformed row', async () => {
  await writeFile(path.join(dir, 'municipalities.en.json'), JSON.stringify([{ id: 1, district_id: 1, category_id: 3, name: 'X', wards: 'many' }]));
  const parsing = parseJsonLayout(dir);
  await expect(parsing).rejects.toBeInstanceOf(GeographyLayoutError);
  await expect(parsing).rejects.toThrow(/municipalities\.en\.json[\s\S]*wards/);
});

test('rejects a category short code it does not know', async () => {
  await writeFile(path.join(dir, 'categories.en.json'), JSON.stringify([{ id: 1, name: 'Village', short_code: 'VDC' }]));
  await expect(parseJsonLayout(dir)).rejects.toThrow('unknown short_code VDC');
});
