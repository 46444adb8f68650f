import { BS_TABLE_FIRST_AD_DAY } from '../calendar/bikram-sambat.ts';
import { z } from 'zod';
import { ApplicationSchema } from '../members/application.ts';

/** The columns of a member import file, in the documented order (docs/member-import.md). */
export const IMPORT_COLUMNS = [
  'full_name_en', 'full_name_ne', 'gender', 'phone', 'email', 'date_of_birth', 'address', 'citizenship_no',
  'ward_code', 'member_number', 'registered_at',
] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];

const REQUIRED_COLUMNS: readonly ImportColumn[] = ['full_name_en', 'gender', 'phone', 'ward_code'];
/** Columns a `.rejected.csv` adds; ignored, so a corrected rejected file imports as it is. */
const IGNORED_COLUMNS = ['line', 'reasons'];

const application = ApplicationSchema.shape;
const blankIsAbsent = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankIsAbsent, schema.optional());
const notAfter = (today: string) => (value: string) => value.slice(0, 10) <= today;

/**
 * One data row, checked with the same rules as an application wherever the fields are the
 * same. `today` (YYYY-MM-DD) bounds dates of birth and registration.
 */
export function importRowSchema(today: string) {
  return z.object({
    full_name_en: application.fullNameEn,
    full_name_ne: optional(application.fullNameNe),
    gender: z.preprocess((value) => (typeof value === 'string' ? value.trim().toUpperCase() : value), application.gender),
    phone: application.phone,
    email: optional(application.email),
    date_of_birth: optional(
      z.iso.date().refine((value) => value >= '1900-01-01' && notAfter(today)(value), 'must be between 1900-01-01 and today'),
    ),
    address: optional(application.address),
    citizenship_no: optional(application.citizenshipNo),
    ward_code: z.string().trim().regex(/^[A-Za-z0-9_]+$/, 'a geography code such as L1_W3'),
    member_number: optional(z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9/_-]{0,39}$/, 'letters, digits, "/", "_" and "-", at most 40')),
    registered_at: optional(
      z.union([z.iso.date(), z.iso.datetime({ offset: true })], { error: 'a date (YYYY-MM-DD) or an ISO 8601 time with its offset' })
        .refine(notAfter(today), 'must not be in the future')
        // Member numbers carry the registration year in the party's calendar, which starts there.
        .refine((value) => value.slice(0, 10) >= BS_TABLE_FIRST_AD_DAY, `must not be before ${BS_TABLE_FIRST_AD_DAY} (1 Baisakh 2000 BS)`),
    ),
  });
}

export type ImportRow = z.output<ReturnType<typeof importRowSchema>>;

export type RowResult = { ok: true; row: ImportRow } | { ok: false; reasons: string[] };

/** Problems with the header line; empty when the file can be read. */
export function headerProblems(header: readonly string[]): string[] {
  const known = new Set<string>([...IMPORT_COLUMNS, ...IGNORED_COLUMNS]);
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const name of header) {
    if (!known.has(name)) problems.push(`unknown column "${name}" (expected ${IMPORT_COLUMNS.join(',')})`);
    if (seen.has(name)) problems.push(`column "${name}" appears twice`);
    seen.add(name);
  }
  for (const name of REQUIRED_COLUMNS) if (!seen.has(name)) problems.push(`required column "${name}" is missing`);
  return problems;
}

/** Reads one record against the header; every reason names its column. */
export function parseImportRow(schema: ReturnType<typeof importRowSchema>, header: readonly string[], fields: readonly string[]): RowResult {
  if (fields.length !== header.length) return { ok: false, reasons: [`has ${fields.length} fields, the header has ${header.length}`] };
  const record = Object.fromEntries(header.map((name, index) => [name, fields[index]]));
  const parsed = schema.safeParse(record);
  if (parsed.success) return { ok: true, row: parsed.data };
  return { ok: false, reasons: parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'row')}: ${issue.message}`) };
}
