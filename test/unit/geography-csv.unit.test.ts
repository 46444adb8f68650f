import { GeographyCsvError, parseCsvLayout } from '../../src/geography/csv-layout.ts';

const HEADER = 'code,parent_code,type,category,name_en,name_ne,ward_number,valid_from,valid_to,is_active';

function csv(...rows: string[]): string {
  return [HEADER, ...rows].join('\n');
}

function issuesOf(text: string) {
  try {
    parseCsvLayout(text);
  } catch (err) {
    if (err instanceof GeographyCsvError) return err.issues.map(({ line, field }) => ({ line, field }));
    throw err;
  }
  throw new Error('expected the CSV to be rejected');
}

test('parses a small hierarchy, filling defaults for blank optional fields', () => {
  const nodes = parseCsvLayout(
    csv(
      'P1,,province,,Koshi Province,कोशी प्रदेश,,,,',
      'D1,P1,district,,Bhojpur,भोजपुर,,,,',
      'L1,D1,local_level,municipality,Shadanand,षडानन्द,,,,',
      '"L1_W3",L1,ward,,"Shadanand Ward 3","षडानन्द वडा ३",3,2017-03-10,2030-01-01,false',
    ),
  );
  expect(nodes.map((n) => [n.code, n.parentCode, n.type])).toEqual([
    ['P1', null, 'province'],
    ['D1', 'P1', 'district'],
    ['L1', 'D1', 'local_level'],
    ['L1_W3', 'L1', 'ward'],
  ]);
  expect(nodes[0]).toMatchObject({ category: null, wardNumber: null, isActive: true, validFrom: '2017-03-10', validTo: null });
  expect(nodes[2]?.category).toBe('municipality');
  expect(nodes[3]).toMatchObject({ nameNe: 'षडानन्द वडा ३', wardNumber: 3, isActive: false, validTo: '2030-01-01' });
});

test('accepts columns in any order and leaves optional columns out', () => {
  const nodes = parseCsvLayout('type,name_en,code,parent_code\nprovince,Somewhere,X1,\n');
  expect(nodes).toEqual([expect.objectContaining({ code: 'X1', nameEn: 'Somewhere', nameNe: null, isActive: true })]);
});

test('names the line and field of every bad value', () => {
  const text = csv(
    'P1,,province,,Koshi,,,,,',
    'D-1,P1,district,,Bhojpur,,,,,',
    'D2,P1,county,,Dhankuta,,,,,',
    'L1,P1,local_level,,Shadanand,,,,,',
    'L1_W1,L1,ward,,Ward,,one,,,',
    'L1_W2,L1,ward,,Ward,,2,2017-02-30,,',
    'L1_W3,L1,ward,,Ward,,3,,,yes',
  );
  expect(issuesOf(text)).toEqual([
    { line: 3, field: 'code' },
    { line: 4, field: 'type' },
    { line: 5, field: 'category' },
    { line: 6, field: 'ward_number' },
    { line: 7, field: 'valid_from' },
    { line: 8, field: 'is_active' },
  ]);
});

test('rejects rules that span fields, by the field at fault', () => {
  const text = csv(
    'P1,P0,province,,Koshi,,,,,',
    'D1,,district,,Bhojpur,,,,,',
    'D2,P1,district,metropolitan,Dhankuta,,,,,',
    'L1,D1,local_level,municipality,Shadanand,,4,,,',
    'L1_W1,L1,ward,,Ward,,,,,',
    'L1_W2,L1,ward,,Ward,,2,2020-01-01,2019-01-01,',
  );
  expect(issuesOf(text)).toEqual([
    { line: 2, field: 'parent_code' },
    { line: 3, field: 'parent_code' },
    { line: 4, field: 'category' },
    { line: 5, field: 'ward_number' },
    { line: 6, field: 'ward_number' },
    { line: 7, field: 'valid_to' },
  ]);
});

test('reports a duplicate code (case-insensitively) against the line it repeats', () => {
  let error: unknown;
  try {
    parseCsvLayout(csv('P1,,province,,Koshi,,,,,', 'p1,,province,,Koshi again,,,,,'));
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(GeographyCsvError);
  expect((error as GeographyCsvError).issues).toEqual([{ line: 3, field: 'code', message: 'duplicates line 2' }]);
  expect((error as Error).message).toContain('line 3, field code: duplicates line 2');
});

test('rejects unknown and missing columns on the header line', () => {
  expect(issuesOf('code,type,name_en,population\nP1,province,Koshi,5\n')).toEqual([
    { line: 1, field: 'population' },
    { line: 1, field: 'parent_code' },
  ]);
});

test('rejects a row with the wrong number of fields, naming its line', () => {
  expect(issuesOf(csv('P1,,province,,Koshi,,,,,', 'D1,P1,district'))).toEqual([{ line: 3, field: 'row' }]);
});

test('rejects an empty file', () => {
  expect(issuesOf('')).toEqual([{ line: 1, field: 'header' }]);
});
