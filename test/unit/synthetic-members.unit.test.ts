import { importRowSchema, IMPORT_COLUMNS, parseImportRow } from '../../src/imports/import-row.ts';
import { syntheticMemberRows, type SyntheticOptions } from '../../src/imports/synthetic-members.ts';

const wards = [
  { code: 'L1_W1', nameEn: 'Shadanand Ward 1' },
  { code: 'L1_W2', nameEn: 'Shadanand Ward 2' },
  { code: 'L2_W1', nameEn: 'Bhojpur Ward 1' },
];
const options: SyntheticOptions = { count: 5_000, seed: 42, wards, memberNumberPrefix: 'UML' };
const rows = (overrides: Partial<SyntheticOptions> = {}) => [...syntheticMemberRows({ ...options, ...overrides })];

test('the same seed gives the same rows; another seed other rows', () => {
  const first = rows({ count: 200 });
  expect(rows({ count: 200 })).toEqual(first);
  expect(rows({ count: 200, seed: 43 })).not.toEqual(first);
  expect(rows({ count: 300 }).slice(0, 200)).toEqual(first);
});

test('every row is a valid import row; phones are unique Nepali mobiles', () => {
  const schema = importRowSchema('2026-01-01');
  const parsed = rows().map((fields) => parseImportRow(schema, IMPORT_COLUMNS, fields));
  const valid = parsed.flatMap((result) => (result.ok ? [result.row] : []));
  expect(valid).toHaveLength(5_000);
  expect(new Set(valid.map((row) => row.phone)).size).toBe(5_000);
  for (const row of valid) expect(row.phone).toMatch(/^\+9779[678]\d{8}$/);
  expect(new Set(valid.flatMap((row) => (row.email ? [row.email] : []))).size).toBe(valid.filter((row) => row.email).length);
});

test('names come in both scripts, about half have an email, and every ward is used', () => {
  const all = rows();
  expect(all.every(([en, ne]) => /^[A-Z][a-z]+( [A-Z][a-z]+)+$/.test(en!) && /^[\u0900-\u097F ]+$/.test(ne!))).toBe(true);
  const emails = all.filter((row) => row[4] !== '').length;
  expect(emails / all.length).toBeGreaterThan(0.45);
  expect(emails / all.length).toBeLessThan(0.55);
  expect(new Set(all.map((row) => row[8]))).toEqual(new Set(wards.map((ward) => ward.code)));
  expect(new Set(all.map((row) => row[2]))).toEqual(new Set(['M', 'F', 'O']));
});

test('no wards, no rows', () => {
  expect(() => rows({ wards: [] })).toThrow(/import the geography first/);
});
