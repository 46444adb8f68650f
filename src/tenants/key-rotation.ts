import { sql, UniqueIntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../db/tenant-context.ts';
import { blindIndex, decryptField } from '../members/personal-data.ts';
import { WRAPPED_COLUMNS, type KeyPurpose, type Keyring, type WrappedColumn } from './keyring.ts';
import { listTenants } from './tenants.ts';

/**
 * Makes a new current key of `purpose` for the party and retires the old one, in one
 * transaction. Running processes see the change at their next use of the party's keys.
 * @returns the new key's tenant_keys id.
 */
export async function rotateTenantKey(pool: DatabasePool, keyring: Keyring, tenantId: string, purpose: KeyPurpose, actor: string): Promise<string> {
  return withTenant(pool, { tenantId, actor }, (tx) => keyring.rotate(tx, tenantId, purpose));
}

const MemberContactRow = z.object({
  id: z.string(),
  phoneEnc: z.instanceof(Buffer),
  phoneBidx: z.instanceof(Buffer),
  emailEnc: z.instanceof(Buffer).nullable(),
  emailBidx: z.instanceof(Buffer).nullable(),
});

export interface ReindexProgress {
  /** Members read so far. */
  scanned: number;
  /** Members whose blind indexes were rewritten under the current key. */
  changed: number;
  /** The last member id done: `--after` it resumes there. */
  lastId: string | null;
  /** Members whose new index another member already holds (a duplicate that slipped in during the rotation): left as they were. */
  conflicts: string[];
}

/**
 * Recomputes every member's phone and email blind index under the party's current blind-index
 * key, in batches of `batchSize` members by id, one transaction each (rows locked only for
 * their batch). Decrypts each phone and email with the party's data keys. A row already under
 * the current key is not written, so the re-index is resumable (`after`) and can simply be run
 * again: a pass that changes nothing means every index is under the current key.
 * Until then lookups and duplicate checks look under the current and the previous key.
 */
export async function reindexBlindIndexes(
  pool: DatabasePool,
  keyring: Keyring,
  tenantId: string,
  options: { actor: string; batchSize?: number; after?: string | undefined; onBatch?: (progress: ReindexProgress) => void },
): Promise<ReindexProgress> {
  const batchSize = options.batchSize ?? 500;
  const progress: ReindexProgress = { scanned: 0, changed: 0, lastId: options.after ?? null, conflicts: [] };
  for (;;) {
    const done = await withTenant(pool, { tenantId, actor: options.actor }, async (tx) => {
      const keys = await keyring.forTenant(tx, tenantId);
      const rows = await tx.any(sql.type(MemberContactRow)`
        SELECT id, phone_enc AS "phoneEnc", phone_bidx AS "phoneBidx", email_enc AS "emailEnc", email_bidx AS "emailBidx"
        FROM members WHERE ${progress.lastId === null ? sql.fragment`TRUE` : sql.fragment`id > ${progress.lastId}::uuid`}
        ORDER BY id LIMIT ${batchSize} FOR UPDATE`);
      for (const row of rows) {
        const phoneBidx = blindIndex(keys, 'phone', decryptField(keys, row.id, 'phone', row.phoneEnc));
        const emailBidx = row.emailEnc && blindIndex(keys, 'email', decryptField(keys, row.id, 'email', row.emailEnc));
        progress.scanned += 1;
        progress.lastId = row.id;
        if (phoneBidx.equals(row.phoneBidx) && (emailBidx === null ? row.emailBidx === null : row.emailBidx !== null && emailBidx.equals(row.emailBidx))) continue;
        try {
          await tx.transaction((savepoint) => savepoint.query(sql.unsafe`
            UPDATE members SET phone_bidx = ${sql.binary(phoneBidx)}, email_bidx = ${emailBidx ? sql.binary(emailBidx) : null} WHERE id = ${row.id}`));
          progress.changed += 1;
        } catch (err) {
          if (!(err instanceof UniqueIntegrityConstraintViolationError)) throw err;
          progress.conflicts.push(row.id);
        }
      }
      return rows.length < batchSize;
    });
    options.onBatch?.(progress);
    if (done) return progress;
  }
}

/**
 * Re-wraps every wrapped value of every party (each column of `columns`) under the keyring's
 * current master key; values another master key the keyring holds wrapped are opened with it.
 * One transaction per party. Afterwards the previous master key opens nothing.
 * @returns how many values were re-wrapped, by column, and the values no key held opens (left as they were).
 */
export async function rewrapUnderCurrentMasterKey(
  pool: DatabasePool,
  keyring: Keyring,
  actor: string,
  columns: readonly WrappedColumn[] = WRAPPED_COLUMNS,
): Promise<{ counts: Record<string, number>; unopened: string[] }> {
  const counts: Record<string, number> = Object.fromEntries(columns.map((c) => [`${c.table}.${c.column}`, 0]));
  const unopened: string[] = [];
  for (const tenant of await listTenants(pool)) {
    await withTenant(pool, { tenantId: tenant.id, actor }, async (tx) => {
      for (const column of columns) {
        const result = await keyring.rewrap(tx, column);
        counts[`${column.table}.${column.column}`]! += result.rewrapped;
        unopened.push(...result.unopened.map((id) => `${column.table} ${id} (party ${tenant.slug})`));
      }
    });
  }
  return { counts, unopened };
}
