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

/**
 * The values a parsed row takes, which no later row of the file and no stored member may have:
 * phone and email as blind indexes (never in the clear), the member number as written.
 */
export interface UniqueKeys {
  phone: Buffer;
  email: Buffer | null;
  /** Upper-cased: two rows of a file may not differ in case only. */
  memberNumber: string | null;
  /** Under the blind-index key retired last, while a re-index runs: stored members are looked for under both. */
  previousPhone: Buffer | null;
  previousEmail: Buffer | null;
  /** As written: compared with stored members' numbers. */
  storedNumber: string | null;
}

export interface CheckedRow {
  /** Why the row cannot be imported, whatever the other rows hold (schema, ward). */
  reasons: string[];
  /** When the row parsed: the values it takes (a row refused for its ward still takes them, for the rows after it). */
  keys?: UniqueKeys;
  /** When nothing in the row itself refuses it. */
  accepted?: AcceptedRow;
}

/**
 * Checks a file's rows one at a time against the row schema and the wards in force. It keeps
 * nothing between rows: duplicates (within the file, of stored members) are found from the
 * keys it returns, by src/imports/import-uniqueness.ts.
 */
export class RowChecker {
  readonly #schema;
  readonly #header: readonly string[];
  readonly #keys: TenantKeys;
  readonly #wards: ReadonlyMap<string, string>;

  /** `wards` maps lower-cased ward codes of active wards to their ids. */
  constructor(options: { header: readonly string[]; keys: TenantKeys; wards: ReadonlyMap<string, string>; today: string }) {
    this.#schema = importRowSchema(options.today);
    this.#header = options.header;
    this.#keys = options.keys;
    this.#wards = options.wards;
  }

  check(record: ImportRecord): CheckedRow {
    const parsed = parseImportRow(this.#schema, this.#header, record.fields);
    const wardCode = (record.fields[this.#header.indexOf('ward_code')] ?? '').trim();
    const wardId = this.#wards.get(wardCode.toLowerCase());
    const badWard = wardId === undefined && /^[A-Za-z0-9_]+$/.test(wardCode) ? [`ward_code: no active ward "${wardCode}" valid today`] : [];
    if (!parsed.ok) return { reasons: [...parsed.reasons, ...badWard] };
    const { row } = parsed;
    const email = row.email === undefined ? undefined : normalizeEmail(row.email);
    const phoneBidx = blindIndex(this.#keys, 'phone', row.phone);
    const emailBidx = email === undefined ? null : blindIndex(this.#keys, 'email', email);
    const previousPhoneBidx = previousBlindIndex(this.#keys, 'phone', row.phone);
    const previousEmailBidx = email === undefined ? null : previousBlindIndex(this.#keys, 'email', email);
    const keys = {
      phone: phoneBidx, email: emailBidx, memberNumber: row.member_number?.toUpperCase() ?? null,
      previousPhone: previousPhoneBidx, previousEmail: previousEmailBidx, storedNumber: row.member_number ?? null,
    };
    if (wardId === undefined) return { reasons: badWard, keys };
    return { reasons: [], keys, accepted: { line: record.line, row, wardId, phoneBidx, emailBidx, previousPhoneBidx, previousEmailBidx } };
  }
}
