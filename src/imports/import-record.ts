import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';
import type { ErrorCode } from '../errors/error-codes.ts';

export const IMPORT_STATUSES = ['running', 'failed', 'completed', 'rolling_back', 'rolled_back'] as const;

export const MemberImportSchema = z.object({
  id: z.string(),
  fileName: z.string(),
  sha256: z.string(),
  status: z.enum(IMPORT_STATUSES),
  totalRows: z.number(),
  rejectedRows: z.number(),
  importedRows: z.number(),
  batchesCommitted: z.number(),
  committedThroughLine: z.number(),
  lastError: z.string().nullable(),
  startedAt: z.number(),
});
export type MemberImport = z.infer<typeof MemberImportSchema>;

/** A member import cannot go ahead as asked; the message says why and what to do. */
export class MemberImportError extends DomainError {
  override readonly name = 'MemberImportError';

  constructor(code: Extract<ErrorCode, `IMPORT_${string}`>, message: string) {
    super(code, message);
  }
}

const selectImport = sql.fragment`
  SELECT id, file_name AS "fileName", encode(file_sha256, 'hex') AS sha256, status, total_rows AS "totalRows",
         rejected_rows AS "rejectedRows", imported_rows AS "importedRows", batches_committed AS "batchesCommitted",
         committed_through_line AS "committedThroughLine", last_error AS "lastError", started_at AS "startedAt"
  FROM member_imports`;

export async function findImport(tx: TenantTransaction, importId: string, forUpdate = false): Promise<MemberImport | null> {
  return tx.maybeOne(sql.type(MemberImportSchema)`${selectImport} WHERE id = ${importId} ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

/** Earlier imports of the same file that were not rolled back, newest first. */
export async function importsOfFile(tx: TenantTransaction, sha256: Buffer): Promise<readonly MemberImport[]> {
  return tx.any(sql.type(MemberImportSchema)`
    ${selectImport} WHERE file_sha256 = ${sql.binary(sha256)} AND status <> 'rolled_back' ORDER BY started_at DESC`);
}

export interface NewImport {
  tenantId: string;
  fileName: string;
  sha256: Buffer;
  batchSize: number;
  totalRows: number;
  rejectedRows: number;
  startedBy: string;
}

export async function createImport(tx: TenantTransaction, input: NewImport): Promise<MemberImport> {
  const id = await tx.oneFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO member_imports (tenant_id, file_name, file_sha256, batch_size, total_rows, rejected_rows, started_by)
    VALUES (${input.tenantId}, ${input.fileName}, ${sql.binary(input.sha256)}, ${input.batchSize}, ${input.totalRows},
            ${input.rejectedRows}, ${input.startedBy})
    RETURNING id`);
  return tx.one(sql.type(MemberImportSchema)`${selectImport} WHERE id = ${id}`);
}

/** Puts a failed or interrupted import back to running, with the rows now refused. */
export async function reopenImport(tx: TenantTransaction, importId: string, rejectedRows: number): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE member_imports SET status = 'running', last_error = NULL, rejected_rows = ${rejectedRows}
    WHERE id = ${importId} AND status IN ('running', 'failed')`);
}

/**
 * Records a batch as committed, first thing in the batch's transaction: the row lock orders
 * this import's writers, and the expected line makes a second process (or a rollback that
 * started meanwhile) fail here instead of importing the same rows twice.
 * @throws MemberImportError IMPORT_MOVED_ON when the import is no longer where this run left it.
 */
export async function recordBatch(tx: TenantTransaction, importId: string, batch: { fromLine: number; throughLine: number; rows: number }): Promise<void> {
  const moved = await tx.query(sql.unsafe`
    UPDATE member_imports
    SET committed_through_line = ${batch.throughLine}, imported_rows = imported_rows + ${batch.rows}, batches_committed = batches_committed + 1
    WHERE id = ${importId} AND status = 'running' AND committed_through_line < ${batch.fromLine}`);
  if (moved.rowCount !== 1) {
    throw new MemberImportError('IMPORT_MOVED_ON', `import ${importId} is no longer running from line ${batch.fromLine}: another process imports or rolls it back`);
  }
}

export async function finishImport(tx: TenantTransaction, importId: string, outcome: { status: 'completed' } | { status: 'failed'; error: string }): Promise<void> {
  const error = outcome.status === 'failed' ? outcome.error.slice(0, 2000) : null;
  await tx.query(sql.unsafe`
    UPDATE member_imports SET status = ${outcome.status}, last_error = ${error}, finished_at = now()
    WHERE id = ${importId} AND status = 'running'`);
}
