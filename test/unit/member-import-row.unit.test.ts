import { headerProblems, IMPORT_COLUMNS, importRowSchema, parseImportRow } from '../../src/imports/import-row.ts';

const schema = importRowSchema('2026-11-24');
const header = [...IMPORT_COLUMNS];
const VALID = ['Ram Thapa', 'राम थापा', 'M', '9841000001', 'Ram@Example.COM', '1980-01-31', 'Naya Bazar, Ward 3', '12-01-75-00001', 'L1_W3', '', '2019-05-01'];

const withField = (column: string, value: string) => VALID.map((field, index) => (header[index] === column ? value : field));
const reasonsOf = (fields: string[]) => {
  const result = parseImportRow(schema, header, fields);
  return result.ok ? [] : result.reasons;
};

test('a valid row is normalized as an application would be', () => {
  const result = parseImportRow(schema, header, VALID);
  expect(result).toEqual({
    ok: true,
    row: {
      full_name_en: 'Ram Thapa', full_name_ne: 'राम थापा', gender: 'M', phone: '+9779841000001', email: 'ram@example.com',
      date_of_birth: '1980-01-31', address: 'Naya Bazar, Ward 3', citizenship_no: '12-01-75-00001', ward_code: 'L1_W3', registered_at: '2019-05-01',
    },
  });
});

test('blank optional fields are absent; gender and phone are read leniently', () => {
  const fields = ['  Sita Rai ', '', ' f ', '+977-984-1000002', ' ', '', '', '', 'L1_W1', 'OLD/0042', '2020-02-02T10:00:00+05:45'];
  const result = parseImportRow(schema, header, fields);
  expect(result).toEqual({
    ok: true,
    row: { full_name_en: 'Sita Rai', gender: 'F', phone: '+9779841000002', ward_code: 'L1_W1', member_number: 'OLD/0042', registered_at: '2020-02-02T10:00:00+05:45' },
  });
});

test('only the required columns need be present, in any order', () => {
  expect(headerProblems(['ward_code', 'phone', 'gender', 'full_name_en'])).toEqual([]);
  expect(parseImportRow(schema, ['ward_code', 'phone', 'gender', 'full_name_en'], ['L1_W1', '9841000003', 'O', 'Hari'])).toMatchObject({ ok: true });
});

test.each([
  ['full_name_en', '', /^full_name_en: /],
  ['gender', 'male', /^gender: /],
  ['phone', '1234567', /^phone: not a valid phone number$/],
  ['phone', '9641234567', /^phone: not a valid phone number$/],
  ['email', 'ram@', /^email: /],
  ['date_of_birth', '1980-02-30', /^date_of_birth: /],
  ['date_of_birth', '2027-01-01', /^date_of_birth: must be between 1900-01-01 and today$/],
  ['date_of_birth', '1899-12-31', /^date_of_birth: must be between 1900-01-01 and today$/],
  ['citizenship_no', '12 01 75', /^citizenship_no: digits, letters/],
  ['ward_code', 'L1 W3', /^ward_code: a geography code such as L1_W3$/],
  ['member_number', 'UML 2020 1', /^member_number: letters, digits/],
  ['registered_at', '2019-05-01 10:00', /^registered_at: a date \(YYYY-MM-DD\) or an ISO 8601 time/],
  ['registered_at', '2026-11-25', /^registered_at: must not be in the future$/],
])('%s %j is refused, naming the column', (column, value, reason) => {
  expect(reasonsOf(withField(column, value))).toEqual([expect.stringMatching(reason)]);
});

test('every bad field of a row is reported at once', () => {
  const reasons = reasonsOf(['', '', 'X', 'nope', 'bad', '', '', '', 'L1_W3', '', '']);
  expect(reasons.map((reason) => reason.split(':')[0])).toEqual(['full_name_en', 'gender', 'phone', 'email']);
});

test('a row with the wrong number of fields is refused as a whole', () => {
  expect(reasonsOf(VALID.slice(0, 5))).toEqual(['has 5 fields, the header has 11']);
});

test('header problems: unknown, repeated and missing columns; line and reasons are ignored', () => {
  expect(headerProblems(['line', 'reasons', ...IMPORT_COLUMNS])).toEqual([]);
  expect(headerProblems(['full_name_en', 'full_name_en', 'mobile', 'gender', 'ward_code'])).toEqual([
    'column "full_name_en" appears twice',
    expect.stringMatching(/^unknown column "mobile"/),
    'required column "phone" is missing',
  ]);
});
