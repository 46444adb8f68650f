import { readFile } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse/sync';
import { z } from 'zod';
import {
  DEFAULT_VALID_FROM,
  GEOGRAPHY_TYPES,
  LOCAL_LEVEL_CATEGORIES,
  nodeCode,
  nodeIssues,
  type GeographyNode,
} from './node.ts';
import { DomainError } from '../errors/domain-error.ts';

export const CSV_COLUMNS = [
  'code', 'parent_code', 'type', 'category', 'name_en', 'name_ne', 'ward_number', 'valid_from', 'valid_to', 'is_active',
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];
const REQUIRED_COLUMNS: readonly CsvColumn[] = ['code', 'parent_code', 'type', 'name_en'];

const FIELD_COLUMN: Record<keyof GeographyNode, CsvColumn> = {
  code: 'code', parentCode: 'parent_code', type: 'type', category: 'category', nameEn: 'name_en', nameNe: 'name_ne',
  wardNumber: 'ward_number', isActive: 'is_active', validFrom: 'valid_from', validTo: 'valid_to',
};

const blankAsNull = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' || value === undefined ? null : value), schema.nullable());

const CsvRow = z.object({
  code: nodeCode,
  parent_code: blankAsNull(nodeCode),
  type: z.enum(GEOGRAPHY_TYPES),
  category: blankAsNull(z.enum(LOCAL_LEVEL_CATEGORIES)),
  name_en: z.string().min(1, 'must not be empty'),
  name_ne: blankAsNull(z.string()),
  ward_number: blankAsNull(z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().positive())),
  valid_from: blankAsNull(z.iso.date()),
  valid_to: blankAsNull(z.iso.date()),
  is_active: blankAsNull(z.enum(['true', 'false'])),
});

export interface CsvIssue {
  line: number;
  field: string;
  message: string;
}

/** Thrown when any row of a CSV is bad; lists every bad field by line. */
export class GeographyCsvError extends DomainError {
  override readonly name = 'GeographyCsvError';
  readonly issues: CsvIssue[];

  constructor(issues: CsvIssue[]) {
    const shown = issues.slice(0, 50).map((i) => `  line ${i.line}, field ${i.field}: ${i.message}`);
    const more = issues.length > 50 ? [`  … and ${issues.length - 50} more`] : [];
    super('GEOGRAPHY_CSV_INVALID', `invalid geography CSV:\n${[...shown, ...more].join('\n')}`);
    this.issues = issues;
  }
}

function headerIssues(header: string[]): CsvIssue[] {
  const unknown = header.filter((name) => !(CSV_COLUMNS as readonly string[]).includes(name));
  const missing = REQUIRED_COLUMNS.filter((name) => !header.includes(name));
  return [
    ...unknown.map((field) => ({ line: 1, field, message: `unknown column (expected ${CSV_COLUMNS.join(',')})` })),
    ...missing.map((field) => ({ line: 1, field, message: 'required column is missing' })),
  ];
}

function toNode(row: z.infer<typeof CsvRow>): GeographyNode {
  return {
    code: row.code,
    parentCode: row.parent_code,
    type: row.type,
    category: row.category,
    nameEn: row.name_en,
    nameNe: row.name_ne,
    wardNumber: row.ward_number,
    isActive: row.is_active !== 'false',
    validFrom: row.valid_from ?? DEFAULT_VALID_FROM,
    validTo: row.valid_to,
  };
}

function rowResult(header: string[], fields: string[], line: number): GeographyNode | CsvIssue[] {
  const parsed = CsvRow.safeParse(Object.fromEntries(header.map((name, index) => [name, fields[index]])));
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({ line, field: String(issue.path[0] ?? 'row'), message: issue.message }));
  }
  const node = toNode(parsed.data);
  const issues = nodeIssues(node).map((issue) => ({ line, field: FIELD_COLUMN[issue.field], message: issue.message }));
  return issues.length > 0 ? issues : node;
}

const CsvRecords = z.array(z.object({ record: z.array(z.string()), info: z.object({ lines: z.number() }) }));

function readRecords(text: string): z.infer<typeof CsvRecords> {
  try {
    return CsvRecords.parse(parse(text, { info: true, bom: true, trim: true, skip_empty_lines: true }));
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    throw new GeographyCsvError([{ line: Number(err.lines ?? 0), field: 'row', message: err.message }]);
  }
}

/**
 * Parses the CSV layout (see docs/geography-import.md) into nodes.
 * @throws GeographyCsvError naming the line and field of every bad value.
 */
export function parseCsvLayout(text: string): GeographyNode[] {
  const [head, ...rows] = readRecords(text);
  if (!head) throw new GeographyCsvError([{ line: 1, field: 'header', message: 'the file is empty' }]);
  const header = head.record;
  const issues = headerIssues(header);
  if (issues.length > 0) throw new GeographyCsvError(issues);
  const nodes: GeographyNode[] = [];
  const lineOfCode = new Map<string, number>();
  for (const { record, info } of rows) {
    const result = rowResult(header, record, info.lines);
    if (Array.isArray(result)) {
      issues.push(...result);
      continue;
    }
    const earlier = lineOfCode.get(result.code.toLowerCase());
    if (earlier !== undefined) issues.push({ line: info.lines, field: 'code', message: `duplicates line ${earlier}` });
    else lineOfCode.set(result.code.toLowerCase(), info.lines);
    nodes.push(result);
  }
  if (issues.length > 0) throw new GeographyCsvError(issues);
  return nodes;
}

export async function readCsvLayout(file: string): Promise<GeographyNode[]> {
  return parseCsvLayout(await readFile(file, 'utf8'));
}
