import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { IntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { withTenant, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { dateIn } from '../terms/term-ledger.ts';
import type { Keyring } from '../tenants/keyring.ts';
import type { Tenant } from '../tenants/tenants.ts';
import { insertMemberBatch, sealRows, type BatchContext, type BatchTuple } from './import-batch.ts';
import { openImportFile } from './import-file.ts';
import { createImport, finishImport, findImport, importsOfFile, MemberImportError, recordBatch, reopenImport, type MemberImport } from './import-record.ts';
import { writeRejections } from './import-rejections.ts';
import { headerProblems } from './import-row.ts';
import { ImportUniqueness } from './import-uniqueness.ts';
import { RowChecker, type AcceptedRow, type Rejection } from './import-validation.ts';
import { loadActiveWards } from './wards.ts';

export interface ImportRequest {
  file: string;
  tenant: Tenant;
  actor: string;
  batchSize: number;
  resumeId?: string | undefined;
  skipInvalid: boolean;
  now: Date;
}

/** What the importer tells the operator as it goes. */
export interface ImportObserver {
  validated(summary: { rows: number; accepted: number; rejected: readonly Rejection[]; rejectedFile: string | null }): void;
  loading(importId: string, rows: number): void;
  batchCommitted(batch: { rows: number; fromLine: number; throughLine: number }): void;
}

export type ImportOutcome =
  | { kind: 'refused'; rejected: number; rejectedFile: string | null }
  | { kind: 'imported'; importId: string; imported: number; skipped: number; rejectedFile: string | null };

/** The import being resumed, after checking it is this file's and can go on. */
function resumable(record: MemberImport | null, request: ImportRequest, sha256: string): MemberImport {
  const id = request.resumeId ?? '';
  if (!record) throw new MemberImportError('IMPORT_NOT_FOUND', `--resume: no import ${id} in ${request.tenant.slug}`);
  if (record.sha256 !== sha256) throw new MemberImportError('IMPORT_FILE_CHANGED', `--resume: import ${id} read another file (or this one before it changed)`);
  if (record.status !== 'running' && record.status !== 'failed') {
    throw new MemberImportError('IMPORT_NOT_RESUMABLE', `--resume: import ${id} is ${record.status.replace('_', ' ')}`);
  }
  return record;
}

/** @throws MemberImportError when the file was imported, or is being imported, already. */
async function priorImport(tx: TenantTransaction, request: ImportRequest, sha256: Buffer): Promise<MemberImport | null> {
  if (request.resumeId !== undefined) return resumable(await findImport(tx, request.resumeId), request, sha256.toString('hex'));
  const [earlier] = await importsOfFile(tx, sha256);
  if (!earlier) return null;
  const hint = earlier.status === 'completed' ? 'roll it back first to import the file again' : `continue it with --resume ${earlier.id}`;
  throw new MemberImportError('IMPORT_FILE_SEEN', `this file was already imported as ${earlier.id} (${earlier.status.replace('_', ' ')}): ${hint}`);
}

/**
 * The rows refused by the checks that needed the whole file, which have only their line and
 * reasons so far: their fields, as the file has them, from another read of it (none when there
 * are no such rows).
 */
async function withFields(file: string, lacking: Map<number, Rejection>): Promise<void> {
  if (lacking.size === 0) return;
  for await (const record of (await openImportFile(file)).records) {
    const rejection = lacking.get(record.line);
    if (rejection) rejection.fields = record.fields;
  }
}

/**
 * Validates every row, streaming: the row itself (schema, ward) as it is read, then duplicates
 * within the file and of stored members in the database (src/imports/import-uniqueness.ts).
 * Keeps only what is refused. @returns the rows read, how many can be imported, and the refusals in line order.
 */
async function validate(pool: DatabasePool, keyring: Keyring, context: TenantContext, request: ImportRequest) {
  const file = await openImportFile(request.file);
  const problems = headerProblems(file.header);
  if (problems.length > 0) throw new MemberImportError('IMPORT_HEADER_INVALID', `line 1: ${problems.join('; ')}`);
  const { keys, wards, prior } = await withTenant(pool, context, async (tx) => ({
    keys: await keyring.forTenant(tx, request.tenant.id),
    wards: new Map((await loadActiveWards(tx)).map((ward) => [ward.code.toLowerCase(), ward.id])),
    prior: await priorImport(tx, request, file.sha256),
  }));
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: request.tenant.timeZone }).format(request.now);
  const checker = new RowChecker({ header: file.header, keys, wards, today });
  const committedThroughLine = prior?.committedThroughLine ?? 0;
  const refused = new Map<number, Rejection>();
  let rows = 0;
  let candidates = 0;
  const { duplicates, clashes } = await withTenant(pool, context, async (tx) => {
    const uniqueness = await ImportUniqueness.open(tx);
    for await (const record of file.records) {
      rows += 1;
      const done = record.line <= committedThroughLine;
      const checked = checker.check(record);
      if (checked.keys && uniqueness.add(record.line, checked.keys, done)) await uniqueness.flush();
      if (done) continue;
      if (checked.accepted) candidates += 1;
      else refused.set(record.line, { line: record.line, fields: record.fields, reasons: checked.reasons });
    }
    return { duplicates: await uniqueness.duplicates(), clashes: await uniqueness.storedClashes(prior?.id ?? null) };
  });
  // A row refused for its ward gets its duplicates' reasons too; a row refused already is not looked for among stored members.
  const lacking = new Map<number, Rejection>();
  const refuse = (line: number, reasons: string[]) => {
    const earlier = refused.get(line);
    if (earlier) earlier.reasons.push(...reasons);
    else lacking.set(line, { line, fields: [], reasons });
  };
  for (const [line, reasons] of duplicates) refuse(line, reasons);
  for (const [line, reasons] of clashes) if (!refused.has(line) && !lacking.has(line)) refuse(line, reasons);
  await withFields(request.file, lacking);
  const rejected = [...refused.values(), ...lacking.values()].sort((a, b) => a.line - b.line);
  const rejectedFile = await writeRejections(request.file, file.header, rejected);
  return { file, keys, prior, checker, rows, accepted: candidates - lacking.size, rejected, rejectedFile };
}

/**
 * The rows to load, read from the file again in order: those after the lines an earlier run
 * committed, less the refused ones, each checked again as it was the first time.
 * @throws MemberImportError when the file is no longer the one validated.
 */
async function* rowsToLoad(request: ImportRequest, sha256: Buffer, checker: RowChecker, committedThroughLine: number, refused: ReadonlySet<number>): AsyncGenerator<AcceptedRow> {
  const file = await openImportFile(request.file);
  if (!file.sha256.equals(sha256)) throw new MemberImportError('IMPORT_FILE_CHANGED', `${request.file} changed after it was validated: nothing of it was imported`);
  for await (const record of file.records) {
    if (record.line <= committedThroughLine || refused.has(record.line)) continue;
    const { accepted } = checker.check(record);
    if (!accepted) throw new MemberImportError('IMPORT_FILE_CHANGED', `line ${record.line} changed after the file was validated`);
    yield accepted;
  }
}

/** A batch's failure for the operator: a violated constraint by name (never the values it saw, which may be personal). */
function failureReason(err: unknown): string {
  if (err instanceof IntegrityConstraintViolationError) return `${err.message} (${err.constraint})`;
  return err instanceof Error ? err.message : String(err);
}

/** Rows sealed between two turns of the event loop: the batch in flight gets its round trips meanwhile. */
const SEAL_SLICE = 250;

/**
 * sealRows in slices, yielding to the event loop after each: run beside the previous batch's
 * transaction, the sealing (the importer's main CPU cost) overlaps the database's work on it.
 */
async function sealInSlices(batch: BatchContext, rows: readonly AcceptedRow[]): Promise<BatchTuple[]> {
  const tuples: BatchTuple[] = [];
  for (let start = 0; start < rows.length; start += SEAL_SLICE) {
    if (start > 0) await setImmediate();
    tuples.push(...sealRows(batch, rows.slice(start, start + SEAL_SLICE)));
  }
  return tuples;
}

async function commitBatch(pool: DatabasePool, context: TenantContext, batch: BatchContext, chunk: readonly AcceptedRow[], tuples: BatchTuple[]) {
  const span = { fromLine: chunk[0]!.line, throughLine: chunk.at(-1)!.line, rows: chunk.length };
  try {
    await withTenant(pool, context, async (tx) => {
      await recordBatch(tx, batch.importId, span);
      await insertMemberBatch(tx, batch, chunk, tuples);
    });
  } catch (err) {
    if (err instanceof MemberImportError) throw err;
    const reason = failureReason(err);
    await withTenant(pool, context, (tx) => finishImport(tx, batch.importId, { status: 'failed', error: `lines ${span.fromLine}-${span.throughLine}: ${reason}` }));
    throw new MemberImportError('IMPORT_BATCH_FAILED',
      `lines ${span.fromLine}-${span.throughLine} were not imported (${reason}); the lines before them are. Continue with --resume ${batch.importId}`);
  }
  return span;
}

/** The next `size` rows, or fewer at the end. */
async function take(rows: AsyncIterator<AcceptedRow>, size: number): Promise<AcceptedRow[]> {
  const chunk: AcceptedRow[] = [];
  while (chunk.length < size) {
    const next = await rows.next();
    if (next.done) break;
    chunk.push(next.value);
  }
  return chunk;
}

/**
 * Loads the rows in batches of one transaction each, in order: batch n + 1 is read and sealed
 * while batch n commits, and goes to the database only once batch n has committed. At most
 * two batches are in memory at a time.
 */
async function loadBatches(pool: DatabasePool, context: TenantContext, batch: BatchContext, rows: AsyncIterator<AcceptedRow>, size: number, observer: ImportObserver) {
  const readAndSeal = async (): Promise<[AcceptedRow[], BatchTuple[]]> => {
    const chunk = await take(rows, size);
    return [chunk, await sealInSlices(batch, chunk)];
  };
  let [chunk, sealed] = await readAndSeal();
  while (chunk.length > 0) {
    const [span, next] = await Promise.all([commitBatch(pool, context, batch, chunk, sealed), readAndSeal()]);
    [chunk, sealed] = next;
    observer.batchCommitted(span);
  }
}

/**
 * Imports a CSV of members into a party: validates every row first (the schema, wards,
 * duplicates within the file and against stored members), then, unless rows were refused and
 * `skipInvalid` is off, loads the rest in batches of one transaction each, as the application
 * role under the party's row-level security. A batch commits its members, their events and
 * the import's progress together, so an interrupted import resumes after its last batch.
 * @throws MemberImportError for a file or import that cannot go ahead; ImportFileError for a file that is not CSV.
 */
export async function importMembers(pool: DatabasePool, keyring: Keyring, request: ImportRequest, observer: ImportObserver): Promise<ImportOutcome> {
  const context = { tenantId: request.tenant.id, actor: request.actor };
  const { file, keys, prior, checker, rows, accepted, rejected: refusals, rejectedFile } = await validate(pool, keyring, context, request);
  const rejected = refusals.length;
  observer.validated({ rows, accepted, rejected: refusals, rejectedFile });
  if (rejected > 0 && !request.skipInvalid) return { kind: 'refused', rejected, rejectedFile };
  const record = await withTenant(pool, context, async (tx) => {
    if (prior) {
      await reopenImport(tx, prior.id, rejected);
      return prior;
    }
    const fileName = path.basename(request.file);
    return createImport(tx, { tenantId: request.tenant.id, fileName, sha256: file.sha256, batchSize: request.batchSize, totalRows: rows, rejectedRows: rejected, startedBy: request.actor });
  });
  const terms = { importDay: dateIn(request.tenant.timeZone, request.now), termLengthMonths: request.tenant.termLengthMonths, calendar: request.tenant.calendar };
  const batch = { keys, importId: record.id, actor: request.actor, memberNumberPrefix: request.tenant.memberNumberPrefix, timeZone: request.tenant.timeZone, startedAt: request.now, terms };
  observer.loading(record.id, accepted);
  const toLoad = rowsToLoad(request, file.sha256, checker, prior?.committedThroughLine ?? 0, new Set(refusals.map((r) => r.line)));
  await loadBatches(pool, context, batch, toLoad, request.batchSize, observer);
  await withTenant(pool, context, (tx) => finishImport(tx, record.id, { status: 'completed' }));
  return { kind: 'imported', importId: record.id, imported: accepted, skipped: rejected, rejectedFile };
}
