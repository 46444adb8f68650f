import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { UniqueKeys } from './import-validation.ts';

/** Rows' keys sent to the database per statement. */
const CHUNK = 5_000;

/**
 * What a key is. 1–3 must be unique within the file (the first row with a value keeps it);
 * 1, 2, 4, 5 and 6 are looked for among stored members.
 */
const KIND = { phone: 1, email: 2, memberNumber: 3, previousPhone: 4, previousEmail: 5, storedNumber: 6 } as const;
const NAMES: Record<number, string> = { [KIND.phone]: 'phone', [KIND.email]: 'email', [KIND.memberNumber]: 'member_number' };

const Duplicate = z.object({ line: z.number(), kind: z.number(), first: z.number() });
const Clash = z.object({ line: z.number(), what: z.string() });

function appendReason(reasons: Map<number, string[]>, line: number, reason: string): void {
  const list = reasons.get(line);
  if (list) list.push(reason);
  else reasons.set(line, [reason]);
}

/**
 * The uniqueness checks of an import, done by Postgres rather than in the importer's memory, so
 * that memory stays flat however long the file: the values each parsed row takes go into a
 * temporary table of the import's transaction, a few thousand rows per statement (phone and
 * email as blind indexes, never in the clear); then one statement finds the rows that repeat an
 * earlier row, and one the rows whose values a stored member of the party has.
 */
export class ImportUniqueness {
  readonly #tx: TenantTransaction;
  #pending: Array<[number, number, Buffer, boolean]> = [];

  private constructor(tx: TenantTransaction) {
    this.#tx = tx;
  }

  /** Within `tx`, a tenant transaction: the table lives as long as it does. */
  static async open(tx: TenantTransaction): Promise<ImportUniqueness> {
    await tx.query(sql.unsafe`
      CREATE TEMPORARY TABLE import_keys (line integer NOT NULL, kind smallint NOT NULL, value bytea NOT NULL, done boolean NOT NULL) ON COMMIT DROP`);
    return new ImportUniqueness(tx);
  }

  /**
   * The keys of the row on `line`. A `done` row (imported by an earlier run of a resumed import)
   * keeps its values against later rows but is not reported itself.
   * @returns true when enough keys are waiting that the caller should `flush()`.
   */
  add(line: number, keys: UniqueKeys, done: boolean): boolean {
    const push = (kind: number, value: Buffer | null) => value && this.#pending.push([line, kind, value, done]);
    push(KIND.phone, keys.phone);
    push(KIND.email, keys.email);
    push(KIND.memberNumber, keys.memberNumber === null ? null : Buffer.from(keys.memberNumber, 'utf8'));
    push(KIND.previousPhone, keys.previousPhone);
    push(KIND.previousEmail, keys.previousEmail);
    push(KIND.storedNumber, keys.storedNumber === null ? null : Buffer.from(keys.storedNumber, 'utf8'));
    return this.#pending.length >= CHUNK;
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const rows = this.#pending;
    this.#pending = [];
    await this.#tx.query(sql.unsafe`
      INSERT INTO pg_temp.import_keys (line, kind, value, done) SELECT * FROM ${sql.unnest(rows, ['int4', 'int2', 'bytea', 'bool'])}`);
  }

  /**
   * The rows (not done) that repeat an earlier row's phone, email or member number, with the
   * reasons by line ("phone: same as line 4"), in the order phone, email, member number.
   */
  async duplicates(): Promise<Map<number, string[]>> {
    await this.flush();
    await this.#tx.query(sql.unsafe`ANALYZE pg_temp.import_keys`);
    const rows = await this.#tx.any(sql.type(Duplicate)`
      SELECT line, kind, first FROM (
        SELECT line, kind, done, min(line) OVER (PARTITION BY kind, value) AS first
        FROM pg_temp.import_keys WHERE kind IN (${KIND.phone}, ${KIND.email}, ${KIND.memberNumber})
      ) k
      WHERE line <> first AND NOT done
      ORDER BY line, kind`);
    const reasons = new Map<number, string[]>();
    for (const { line, kind, first } of rows) appendReason(reasons, line, `${NAMES[kind]!}: same as line ${first}`);
    return reasons;
  }

  /**
   * The rows (not done) whose phone, email or member number a stored member of the party
   * already has, with the reasons by line. Members of `importId` (an import being resumed) do
   * not count: their rows are the done ones. With no import id every stored member counts.
   * (`import_id IS DISTINCT FROM NULL` would leave out every member who applied through the
   * app, whose import_id is NULL.)
   */
  async storedClashes(importId: string | null): Promise<Map<number, string[]>> {
    await this.flush();
    const others = importId === null ? sql.fragment`TRUE` : sql.fragment`m.import_id IS DISTINCT FROM ${importId}::uuid`;
    const rows = await this.#tx.any(sql.type(Clash)`
      SELECT DISTINCT line, what, ord FROM (
        SELECT k.line, 'phone' AS what, 1 AS ord FROM pg_temp.import_keys k JOIN members m ON m.phone_bidx = k.value
        WHERE k.kind IN (${KIND.phone}, ${KIND.previousPhone}) AND NOT k.done AND ${others}
        UNION ALL
        SELECT k.line, 'email', 2 FROM pg_temp.import_keys k JOIN members m ON m.email_bidx = k.value
        WHERE k.kind IN (${KIND.email}, ${KIND.previousEmail}) AND NOT k.done AND ${others}
        UNION ALL
        SELECT k.line, 'member_number', 3 FROM pg_temp.import_keys k JOIN members m ON m.member_number = convert_from(k.value, 'UTF8')
        WHERE k.kind = ${KIND.storedNumber} AND NOT k.done AND ${others}
      ) c
      ORDER BY line, ord`);
    const reasons = new Map<number, string[]>();
    for (const { line, what } of rows) appendReason(reasons, line, `${what}: an existing member of this party has it`);
    return reasons;
  }
}
