import type { TenantKeys } from '../tenants/keyring.ts';
import { blindIndex, normalizeEmail, previousBlindIndex } from '../members/personal-data.ts';
import type { ImportRecord } from './import-file.ts';
import { importRowSchema, parseImportRow, type ImportRow } from './import-row.ts';

/** A valid row, not a duplicate within the file, ready to be checked against stored members. */
export interface AcceptedRow {
  line: number;
  row: ImportRow;
  wardId: string;
  phoneBidx: Buffer;
  emailBidx: Buffer | null;
  /** Under the blind-index key retired last, while a re-index runs: stored members are looked for under both. */
  previousPhoneBidx: Buffer | null;
  previousEmailBidx: Buffer | null;
}

export interface Rejection {
  line: number;
  /** The row as read, or for rows refused later, as validated. */
  fields: string[];
  reasons: string[];
}

type Key = 'phone' | 'email' | 'member_number';

/**
 * Checks a file's rows one at a time: the row schema, the ward, and duplicates of an earlier
 * row's phone, email or member number. Rows up to `committedThroughLine` were imported by an
 * earlier run of the same import (`--resume`): they only count as earlier rows.
 */
export class ImportValidator {
  accepted: AcceptedRow[] = [];
  readonly rejected: Rejection[] = [];
  rows = 0;
  readonly #schema;
  readonly #header: readonly string[];
  readonly #keys: TenantKeys;
  readonly #wards: ReadonlyMap<string, string>;
  readonly #committedThroughLine: number;
  readonly #firstLine = new Map<string, number>();

  /** `wards` maps lower-cased ward codes of active wards to their ids. */
  constructor(options: { header: readonly string[]; keys: TenantKeys; wards: ReadonlyMap<string, string>; today: string; committedThroughLine: number }) {
    this.#schema = importRowSchema(options.today);
    this.#header = options.header;
    this.#keys = options.keys;
    this.#wards = options.wards;
    this.#committedThroughLine = options.committedThroughLine;
  }

  check(record: ImportRecord): void {
    this.rows += 1;
    const done = record.line <= this.#committedThroughLine;
    const parsed = parseImportRow(this.#schema, this.#header, record.fields);
    const wardCode = (record.fields[this.#header.indexOf('ward_code')] ?? '').trim();
    const wardId = this.#wards.get(wardCode.toLowerCase());
    const badWard = wardId === undefined && /^[A-Za-z0-9_]+$/.test(wardCode) ? [`ward_code: no active ward "${wardCode}" valid today`] : [];
    if (!parsed.ok) {
      if (!done) this.rejected.push({ line: record.line, fields: record.fields, reasons: [...parsed.reasons, ...badWard] });
      return;
    }
    const { row } = parsed;
    const email = row.email === undefined ? undefined : normalizeEmail(row.email);
    const reasons = [...badWard, ...this.#duplicateReasons(record.line, { phone: row.phone, email, member_number: row.member_number?.toUpperCase() })];
    if (done) return;
    if (reasons.length > 0 || wardId === undefined) {
      this.rejected.push({ line: record.line, fields: record.fields, reasons });
      return;
    }
    this.accepted.push({
      line: record.line,
      row,
      wardId,
      phoneBidx: blindIndex(this.#keys, 'phone', row.phone),
      emailBidx: email === undefined ? null : blindIndex(this.#keys, 'email', email),
      previousPhoneBidx: previousBlindIndex(this.#keys, 'phone', row.phone),
      previousEmailBidx: email === undefined ? null : previousBlindIndex(this.#keys, 'email', email),
    });
  }

  /** Reasons a row repeats an earlier row; the first row with a value keeps it. */
  #duplicateReasons(line: number, values: Record<Key, string | undefined>): string[] {
    const reasons: string[] = [];
    for (const [key, value] of Object.entries(values) as [Key, string | undefined][]) {
      if (value === undefined) continue;
      const earlier = this.#firstLine.get(`${key}:${value}`);
      if (earlier === undefined) this.#firstLine.set(`${key}:${value}`, line);
      else reasons.push(`${key}: same as line ${earlier}`);
    }
    return reasons;
  }

  /** Moves accepted rows to the rejected ones, e.g. when they clash with stored members. */
  reject(reasonsByLine: ReadonlyMap<number, string[]>): void {
    if (reasonsByLine.size === 0) return;
    this.accepted = this.accepted.filter((accepted) => {
      const reasons = reasonsByLine.get(accepted.line);
      if (reasons) this.rejected.push({ line: accepted.line, fields: fieldsOf(this.#header, accepted.row), reasons });
      return !reasons;
    });
    this.rejected.sort((a, b) => a.line - b.line);
  }
}

function fieldsOf(header: readonly string[], row: ImportRow): string[] {
  return header.map((name) => {
    const value = (row as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : '';
  });
}
