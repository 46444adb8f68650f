import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';
import { findImport, MemberImportError } from './import-record.ts';

/** @throws MemberImportError when there is no such import, it is rolled back already, or its members changed since. */
async function beginRollback(tx: TenantTransaction, importId: string): Promise<void> {
  const record = await findImport(tx, importId, true);
  if (!record) throw new MemberImportError('IMPORT_NOT_FOUND', `no import ${importId} in this party`);
  if (record.status === 'rolled_back') throw new MemberImportError('IMPORT_ROLLED_BACK', `import ${importId} is rolled back already`);
  const changed = await tx.maybeOneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int4 AS n FROM members WHERE import_id = ${importId} AND version <> 1 HAVING count(*) > 0`);
  if (changed !== null) {
    throw new MemberImportError('IMPORT_MEMBERS_CHANGED', `${changed} members of import ${importId} changed after the import: it can no longer be rolled back`);
  }
  await tx.query(sql.unsafe`UPDATE member_imports SET status = 'rolling_back' WHERE id = ${importId}`);
}

/**
 * One batch: a MemberImportRolledBack event for each of up to `size` members of the import
 * (event_store is append-only: the MemberImported events stay, and this one follows them),
 * then the members rows go through delete_imported_members(), the one path by which the
 * application role may delete members.
 */
async function rollBackBatch(tx: TenantTransaction, context: TenantContext, importId: string, size: number): Promise<number> {
  const metadata = sql.jsonb({ actor: context.actor, correlationId: importId });
  const ids = await tx.anyFirst(sql.type(z.object({ id: z.string() }))`
    WITH chosen AS (
      SELECT id, version FROM members WHERE import_id = ${importId} ORDER BY id LIMIT ${size} FOR UPDATE
    )
    INSERT INTO event_store (tenant_id, aggregate_type, aggregate_id, version, event_type, payload, metadata)
    SELECT ${context.tenantId}::uuid, 'Member', id, version + 1, 'MemberImportRolledBack', jsonb_build_object('importId', ${importId}::text), ${metadata}
    FROM chosen ORDER BY id
    RETURNING aggregate_id AS id`);
  if (ids.length === 0) return 0;
  const deleted = await tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT delete_imported_members(${importId}, ${sql.array(ids, 'uuid')}) AS n`);
  await tx.query(sql.unsafe`UPDATE member_imports SET rolled_back_rows = coalesce(rolled_back_rows, 0) + ${deleted} WHERE id = ${importId}`);
  return deleted;
}

/**
 * Undoes an import: deletes its members and appends a MemberImportRolledBack event for each,
 * in batches of one transaction each. The import is marked rolling_back first (which also
 * stops an importer still running it), so an interrupted rollback is finished by running it
 * again. Works on completed, failed and interrupted imports alike.
 * @throws MemberImportError when it cannot be rolled back.
 * @returns how many members this run deleted.
 */
export async function rollBackImport(pool: DatabasePool, context: TenantContext, importId: string, size: number, onBatch: (deleted: number) => void): Promise<number> {
  if (!z.uuid().safeParse(importId).success) throw new MemberImportError('IMPORT_NOT_FOUND', `"${importId}" is not an import id`);
  await withTenant(pool, context, (tx) => beginRollback(tx, importId));
  let total = 0;
  for (;;) {
    const deleted = await withTenant(pool, context, (tx) => rollBackBatch(tx, context, importId, size));
    if (deleted === 0) break;
    total += deleted;
    onBatch(total);
  }
  await withTenant(pool, context, (tx) => tx.query(sql.unsafe`
    UPDATE member_imports SET status = 'rolled_back', rolled_back_at = now(), finished_at = coalesce(finished_at, now())
    WHERE id = ${importId} AND status = 'rolling_back'`));
  return total;
}
