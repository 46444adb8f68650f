import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type QuerySqlToken } from 'slonik';
import { z } from 'zod';
import { parseCsvLayout } from '../../src/geography/csv-layout.ts';
import { importGeography } from '../../src/geography/import.ts';
import { parseJsonLayout } from '../../src/geography/json-layout.ts';
import { GeographyImportError, type GeographyNode, type GeographyType } from '../../src/geography/node.ts';
import { SMALL_SHAPE, syntheticCounts, writeSyntheticDataset } from '../../src/geography/synthetic.ts';
import { SHIPPED_GEOGRAPHY_DIR } from '../../src/geography/shipped.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/** The copy the product ships (data/geography/nepal); the synthetic shape only if a checkout lacks it. */
const REAL_DATASET = SHIPPED_GEOGRAPHY_DIR;
const hasRealDataset = existsSync(REAL_DATASET);
const expected: Record<GeographyType, number> = hasRealDataset
  ? { province: 7, district: 77, local_level: 753, ward: 6743 }
  : syntheticCounts(SMALL_SHAPE);
const totalNodes = Object.values(expected).reduce((sum, count) => sum + count, 0);

let db: TestDatabase;
let tmp: string;
let nodes: GeographyNode[];

const Versions = z.object({ key: z.string(), xmin: z.string() });
const TypeCount = z.object({ type: z.string(), count: z.number() });
const Count = z.object({ count: z.number() });

async function rowVersions(): Promise<Map<string, string>> {
  const rows = await db.app.any(sql.type(Versions)`
    SELECT code AS key, xmin::text AS xmin FROM geography_nodes
    UNION ALL SELECT ancestor_id || '>' || descendant_id, xmin::text FROM geography_closure
  `);
  return new Map(rows.map((row) => [row.key, row.xmin]));
}

const count = async (query: QuerySqlToken<typeof Count>) => (await db.app.one(query)).count;

beforeAll(async () => {
  db = await createTestDatabase();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'geography-int-'));
  const dir = hasRealDataset ? REAL_DATASET : path.join(tmp, 'synthetic');
  if (!hasRealDataset) await writeSyntheticDataset(dir, SMALL_SHAPE);
  nodes = await parseJsonLayout(dir);
});
afterAll(async () => {
  await db.close();
  await rm(tmp, { recursive: true, force: true });
});

test('the first import inserts every level, readable by the application role', async () => {
  const result = await importGeography(db.owner, nodes);
  for (const [type, inserted] of Object.entries(expected)) {
    expect(result.levels[type as GeographyType]).toEqual({ inserted, updated: 0, unchanged: 0 });
  }
  const rows = await db.app.any(sql.type(TypeCount)`SELECT type::text, count(*)::int4 AS count FROM geography_nodes GROUP BY type`);
  expect(Object.fromEntries(rows.map((row) => [row.type, row.count]))).toEqual(expected);
  const closureRows = expected.province + 2 * expected.district + 3 * expected.local_level + 4 * expected.ward;
  expect(result.closureRowsInserted).toBe(closureRows);
}, 120_000);

test('paths and closure agree with the parent links', async () => {
  expect(await count(sql.type(Count)`SELECT count(*)::int4 AS count FROM geography_closure WHERE depth = 0 AND ancestor_id = descendant_id`)).toBe(totalNodes);
  const wardsUnderProvince = await count(sql.type(Count)`
    SELECT count(*)::int4 AS count FROM geography_nodes w
    JOIN geography_closure c ON c.descendant_id = w.id AND c.depth = 3
    JOIN geography_nodes p ON p.id = c.ancestor_id AND p.type = 'province' AND p.path @> w.path
    WHERE w.type = 'ward'`);
  expect(wardsUnderProvince).toBe(expected.ward);
  const parentMismatches = await count(sql.type(Count)`
    SELECT count(*)::int4 AS count FROM geography_nodes n
    LEFT JOIN geography_closure c ON c.descendant_id = n.id AND c.depth = 1
    WHERE n.parent_id IS DISTINCT FROM c.ancestor_id OR nlevel(n.path) <> (SELECT count(*) FROM geography_closure a WHERE a.descendant_id = n.id)`);
  expect(parentMismatches).toBe(0);
  const ward = await db.app.one(sql.type(z.object({ path: z.string() }))`SELECT path::text FROM geography_nodes WHERE code = 'L1_W3'`);
  expect(ward.path).toMatch(/^p\d+\.d\d+\.l1\.l1_w3$/);
});

test('importing the same data again writes nothing', async () => {
  const before = await rowVersions();
  const result = await importGeography(db.owner, nodes);
  for (const [type, unchanged] of Object.entries(expected)) {
    expect(result.levels[type as GeographyType]).toEqual({ inserted: 0, updated: 0, unchanged });
  }
  expect(result.closureRowsInserted).toBe(0);
  expect(await rowVersions()).toEqual(before);
});

test('a changed name updates that node only; a CSV retires a ward and deletes nothing', async () => {
  const before = await rowVersions();
  const renamed = nodes.map((node) => (node.code === 'D1' ? { ...node, nameEn: `${node.nameEn} (renamed)` } : node));
  const result = await importGeography(db.owner, renamed);
  expect(result.levels.district).toEqual({ inserted: 0, updated: 1, unchanged: expected.district - 1 });
  const after = await rowVersions();
  expect([...after].filter(([key, xmin]) => before.get(key) !== xmin).map(([key]) => key)).toEqual(['D1']);

  const csv = 'code,parent_code,type,name_en,ward_number,valid_to,is_active\nL1_W3,L1,ward,Retired Ward 3,3,2026-01-01,false\n';
  const retired = await importGeography(db.owner, parseCsvLayout(csv));
  expect(retired.levels.ward).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
  const ward = await db.app.one(sql.type(z.object({ is_active: z.boolean() }))`SELECT is_active FROM geography_nodes WHERE code = 'L1_W3'`);
  expect(ward.is_active).toBe(false);
  expect(await count(sql.type(Count)`SELECT count(*)::int4 AS count FROM geography_nodes`)).toBe(totalNodes);
});

test('a node cannot move under another parent, and a rejected import writes nothing', async () => {
  const before = await rowVersions();
  const moved = [{ ...nodes.find((node) => node.code === 'L1')!, parentCode: 'D2' }, nodes.find((n) => n.code === 'D2')!];
  await expect(importGeography(db.owner, moved)).rejects.toThrow(GeographyImportError);
  await expect(importGeography(db.owner, moved)).rejects.toThrow('L1: is stored under D1, cannot move under D2');
  expect(await rowVersions()).toEqual(before);
});

test('a CSV can add a ward under a stored local level', async () => {
  const csv = 'code,parent_code,type,name_en,ward_number\nL1_W99,L1,ward,New Ward 99,99\n';
  const result = await importGeography(db.owner, parseCsvLayout(csv));
  expect(result.levels.ward).toEqual({ inserted: 1, updated: 0, unchanged: 0 });
  expect(result.closureRowsInserted).toBe(4);
});

test('the application role cannot write geography', async () => {
  const province = sql.unsafe`INSERT INTO geography_nodes (code, type, path, name_en) VALUES ('PX', 'province', 'px', 'Nowhere')`;
  await expect(db.app.query(province)).rejects.toThrow(/permission denied/);
  await expect(db.app.query(sql.unsafe`UPDATE geography_nodes SET name_en = 'x' WHERE code = 'P1'`)).rejects.toThrow(/permission denied/);
  await expect(db.app.query(sql.unsafe`DELETE FROM geography_closure`)).rejects.toThrow(/permission denied/);
});
