import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { AcceptedRow } from './import-validation.ts';

const CHUNK = 5_000;
const Taken = z.object({ key: z.string() });

/**
 * Members of `importId` do not count (an import being resumed skips its own rows); with no
 * import id every stored member counts. (`import_id IS DISTINCT FROM NULL` would leave out every
 * member who applied through the app, whose import_id is NULL.)
 */
const notOfImport = (importId: string | null) => (importId === null ? sql.fragment`TRUE` : sql.fragment`import_id IS DISTINCT FROM ${importId}::uuid`);

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

async function takenBlindIndexes(tx: TenantTransaction, column: 'phone_bidx' | 'email_bidx', values: Buffer[], importId: string | null): Promise<Set<string>> {
  const taken = new Set<string>();
  for (const chunk of chunks(values)) {
    const rows = await tx.anyFirst(sql.type(Taken)`
      SELECT encode(${sql.identifier([column])}, 'base64') AS key FROM members
      WHERE ${sql.identifier([column])} = ANY(${sql.array(chunk, 'bytea')}) AND ${notOfImport(importId)}`);
    for (const key of rows) taken.add(key);
  }
  return taken;
}

async function takenNumbers(tx: TenantTransaction, numbers: string[], importId: string | null): Promise<Set<string>> {
  const taken = new Set<string>();
  for (const chunk of chunks(numbers)) {
    const rows = await tx.anyFirst(sql.type(Taken)`
      SELECT member_number AS key FROM members
      WHERE member_number = ANY(${sql.array(chunk, 'text')}) AND ${notOfImport(importId)}`);
    for (const key of rows) taken.add(key);
  }
  return taken;
}

/**
 * The rows whose phone, email or member number a stored member of the transaction's tenant
 * already has, with the reasons by line. Members of `importId` itself (an import being
 * resumed) do not count: their rows are skipped as already imported.
 */
export async function clashesWithStoredMembers(tx: TenantTransaction, rows: readonly AcceptedRow[], importId: string | null): Promise<Map<number, string[]>> {
  const present = (values: (Buffer | null)[]) => values.filter((v): v is Buffer => v !== null);
  const phones = await takenBlindIndexes(tx, 'phone_bidx', rows.flatMap((r) => present([r.phoneBidx, r.previousPhoneBidx])), importId);
  const emails = await takenBlindIndexes(tx, 'email_bidx', rows.flatMap((r) => present([r.emailBidx, r.previousEmailBidx])), importId);
  const taken = (set: Set<string>, ...values: (Buffer | null)[]) => present(values).some((v) => set.has(v.toString('base64')));
  const numbers = await takenNumbers(tx, rows.flatMap((r) => (r.row.member_number ? [r.row.member_number] : [])), importId);
  const clashes = new Map<number, string[]>();
  for (const { line, row, phoneBidx, emailBidx, previousPhoneBidx, previousEmailBidx } of rows) {
    const reasons = [
      ...(taken(phones, phoneBidx, previousPhoneBidx) ? ['phone: an existing member of this party has it'] : []),
      ...(taken(emails, emailBidx, previousEmailBidx) ? ['email: an existing member of this party has it'] : []),
      ...(row.member_number && numbers.has(row.member_number) ? ['member_number: an existing member of this party has it'] : []),
    ];
    if (reasons.length > 0) clashes.set(line, reasons);
  }
  return clashes;
}
