import { sql, UniqueIntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { sealedKeyId } from '../crypto/aead.ts';
import { withTenant, type TenantTransaction } from '../db/tenant-context.ts';
import { blindIndex, decryptField, encryptField, type PersonalField } from '../members/personal-data.ts';
import { ChainAnchorsBrokenError, rekeyChainAnchors } from '../events/chain-anchors.ts';
import { webhookSecretAad } from '../payments/webhook-secrets.ts';
import { tenantKeyAad, type KeyPurpose, type Keyring, type TenantKeys, type WrappedColumn } from './keyring.ts';

/**
 * Every column of values wrapped by the master key. The application role needs UPDATE on each
 * wrapped column for the re-wrap (migration 0022).
 */
export const WRAPPED_COLUMNS: readonly WrappedColumn[] = [
  { table: 'tenant_keys', column: 'wrapped_key', aadColumns: ['tenant_id', 'purpose'], aad: (row) => tenantKeyAad(row.tenant_id!, row.purpose!) },
  { table: 'payment_webhook_secrets', column: 'wrapped_secret', aadColumns: ['tenant_id', 'provider'], aad: (row) => webhookSecretAad(row.tenant_id!, row.provider!, row.id!) },
];
import { listTenants } from './tenants.ts';

/** Whether a member import of the transaction's party is running. */
const runningImport = (tx: TenantTransaction) => tx.exists(sql.unsafe`SELECT 1 FROM member_imports WHERE status = 'running'`);

/** A rotation refused: the last one of the same key is not finished, or a member import is running. */
export class RotationUnfinishedError extends Error {
  override readonly name = 'RotationUnfinishedError';
}

/**
 * Makes a new current key of `purpose` for the party and retires the old one, in one
 * transaction. Running processes see the change at their next use of the party's keys.
 * @returns the new key's tenant_keys id.
 * @throws RotationUnfinishedError for a blind-index key whose last rotation's re-index is not
 *   finished (lookups look under one previous key only), or while a member import is running.
 */
export async function rotateTenantKey(pool: DatabasePool, keyring: Keyring, tenantId: string, purpose: KeyPurpose, actor: string): Promise<string> {
  return withTenant(pool, { tenantId, actor }, async (tx) => {
    if (purpose === 'blind_index' && (await keyring.forTenant(tx, tenantId)).previousBlindIndexKeyId !== null) {
      throw new RotationUnfinishedError('the last blind-index rotation is not finished: run keys:reindex until it says lookups no longer use the previous key');
    }
    if (purpose === 'blind_index' && await runningImport(tx)) {
      throw new RotationUnfinishedError('a member import is running (it computes blind indexes with the key it started with): rotate when it has ended');
    }
    return keyring.rotate(tx, tenantId, purpose);
  });
}

export interface BatchProgress {
  /** Members read so far. */
  scanned: number;
  /** Members rewritten under the current key. */
  changed: number;
  /** The last member id done: `--after` it resumes there. */
  lastId: string | null;
}

export interface ReindexProgress extends BatchProgress {
  /** Members whose new index another member already holds (a duplicate that slipped in during the rotation): left as they were. */
  conflicts: string[];
  /**
   * Whether the previous blind-index key is done with: true when this pass marked it finished (or
   * there was none), else why not yet.
   */
  previousKeyFinished: true | string;
}

/**
 * How long after it was sealed an application may still be recorded: the lifecycle waits an
 * hour for its registration (workflows/members/member-lifecycle.ts). An hour after a rotation no
 * application sealed under the old blind-index key is still to come.
 */
export const SEALED_APPLICATION_LIFETIME_MS = 60 * 60_000;

export interface BatchOptions {
  actor: string;
  batchSize?: number;
  after?: string | undefined;
  onBatch?: (progress: BatchProgress) => void;
}

/**
 * Visits the party's members by id, `batchSize` at a time, one transaction per batch (rows
 * locked only for their batch); `visit` returns whether it rewrote the member.
 */
async function inMemberBatches<Row extends { id: string }>(
  pool: DatabasePool,
  keyring: Keyring,
  tenantId: string,
  options: BatchOptions,
  read: (tx: TenantTransaction, after: string | null, limit: number) => Promise<readonly Row[]>,
  visit: (tx: TenantTransaction, keys: TenantKeys, row: Row) => Promise<boolean>,
): Promise<BatchProgress> {
  const batchSize = options.batchSize ?? 500;
  const progress: BatchProgress = { scanned: 0, changed: 0, lastId: options.after ?? null };
  for (;;) {
    const done = await withTenant(pool, { tenantId, actor: options.actor }, async (tx) => {
      const keys = await keyring.forTenant(tx, tenantId);
      const rows = await read(tx, progress.lastId, batchSize);
      for (const row of rows) {
        if (await visit(tx, keys, row)) progress.changed += 1;
        progress.scanned += 1;
        progress.lastId = row.id;
      }
      return rows.length < batchSize;
    });
    options.onBatch?.(progress);
    if (done) return progress;
  }
}

const after = (id: string | null) => (id === null ? sql.fragment`TRUE` : sql.fragment`id > ${id}::uuid`);

const MemberContactRow = z.object({
  id: z.string(),
  phoneEnc: z.instanceof(Buffer),
  phoneBidx: z.instanceof(Buffer),
  emailEnc: z.instanceof(Buffer).nullable(),
  emailBidx: z.instanceof(Buffer).nullable(),
});

/**
 * Recomputes every member's phone and email blind index under the party's current blind-index
 * key, in batches by member id. Decrypts each phone and email with the party's data keys. A
 * row already under the current key is not written, so the re-index is resumable (`after`) and
 * can simply be run again. Lookups and duplicate checks look under the current and the previous
 * key until a full pass (not resumed with `after`) that begins an hour or more after the
 * rotation, with no member import running and no conflict, marks the previous key reindexed:
 * every stored index is then under the current key, and none can still arrive under the old one.
 */
export async function reindexBlindIndexes(pool: DatabasePool, keyring: Keyring, tenantId: string, options: BatchOptions): Promise<ReindexProgress> {
  const conflicts: string[] = [];
  const start = await withTenant(pool, { tenantId, actor: options.actor }, async (tx) => {
    const keys = await keyring.forTenant(tx, tenantId);
    const previousId = keys.previousBlindIndexKeyId;
    return {
      previousId,
      retiredAt: previousId === null ? null : await tx.oneFirst(sql.type(z.object({ at: z.number() }))`SELECT retired_at AS at FROM tenant_keys WHERE id = ${previousId}`),
      importing: await runningImport(tx),
      at: await tx.oneFirst(sql.type(z.object({ now: z.number() }))`SELECT clock_timestamp() AS now`),
    };
  });
  const progress = await inMemberBatches(pool, keyring, tenantId, options,
    (tx, last, limit) => tx.any(sql.type(MemberContactRow)`
      SELECT id, phone_enc AS "phoneEnc", phone_bidx AS "phoneBidx", email_enc AS "emailEnc", email_bidx AS "emailBidx"
      FROM members WHERE ${after(last)} ORDER BY id LIMIT ${limit} FOR UPDATE`),
    async (tx, keys, row) => {
      const phoneBidx = blindIndex(keys, 'phone', decryptField(keys, row.id, 'phone', row.phoneEnc));
      const emailBidx = row.emailEnc && blindIndex(keys, 'email', decryptField(keys, row.id, 'email', row.emailEnc));
      const same = (a: Buffer | null, b: Buffer | null) => (a === null || b === null ? a === b : a.equals(b));
      if (same(phoneBidx, row.phoneBidx) && same(emailBidx, row.emailBidx)) return false;
      try {
        await tx.transaction((savepoint) => savepoint.query(sql.unsafe`
          UPDATE members SET phone_bidx = ${sql.binary(phoneBidx)}, email_bidx = ${emailBidx ? sql.binary(emailBidx) : null} WHERE id = ${row.id}`));
        return true;
      } catch (err) {
        if (!(err instanceof UniqueIntegrityConstraintViolationError)) throw err;
        conflicts.push(row.id);
        return false;
      }
    });
  if (start.previousId === null) return { ...progress, conflicts, previousKeyFinished: true };
  const notYet = options.after !== undefined ? 'the pass was resumed with --after: a full pass from the start finishes it'
    : start.retiredAt !== null && start.at < start.retiredAt + SEALED_APPLICATION_LIFETIME_MS
      ? `the rotation is less than an hour old (an application sealed under the previous key may still be recorded): run again after ${new Date(start.retiredAt + SEALED_APPLICATION_LIFETIME_MS).toISOString()}`
      : start.importing ? 'a member import was running' : conflicts.length > 0 ? 'members share a phone or email' : null;
  if (notYet) return { ...progress, conflicts, previousKeyFinished: notYet };
  const finished = await withTenant(pool, { tenantId, actor: options.actor }, async (tx) => {
    if (await runningImport(tx)) return 'a member import started meanwhile';
    await tx.query(sql.unsafe`UPDATE tenant_keys SET reindexed_at = clock_timestamp() WHERE id = ${start.previousId} AND reindexed_at IS NULL`);
    return true as const;
  });
  return { ...progress, conflicts, previousKeyFinished: finished };
}

/** The members' sealed columns and the field each one's AAD names. */
const SEALED_MEMBER_COLUMNS = [
  ['phone_enc', 'phone'], ['email_enc', 'email'], ['date_of_birth_enc', 'dateOfBirth'], ['address_enc', 'address'], ['citizenship_no_enc', 'citizenshipNo'],
] as const satisfies readonly (readonly [string, PersonalField])[];

const SealedMemberRow = z.object({
  id: z.string(),
  phone_enc: z.instanceof(Buffer).nullable(),
  email_enc: z.instanceof(Buffer).nullable(),
  date_of_birth_enc: z.instanceof(Buffer).nullable(),
  address_enc: z.instanceof(Buffer).nullable(),
  citizenship_no_enc: z.instanceof(Buffer).nullable(),
});

/**
 * Re-encrypts, under the party's current data key, every member's personal field another
 * (retired) data key sealed, in batches by member id. Resumable like the re-index; a member
 * already under the current key is not written.
 */
export async function reencryptPersonalData(pool: DatabasePool, keyring: Keyring, tenantId: string, options: BatchOptions): Promise<BatchProgress> {
  return inMemberBatches(pool, keyring, tenantId, options,
    (tx, last, limit) => tx.any(sql.type(SealedMemberRow)`
      SELECT id, ${sql.join(SEALED_MEMBER_COLUMNS.map(([column]) => sql.identifier([column])), sql.fragment`, `)}
      FROM members WHERE ${after(last)} ORDER BY id LIMIT ${limit} FOR UPDATE`),
    async (tx, keys, row) => {
      const updates = SEALED_MEMBER_COLUMNS.flatMap(([column, field]) => {
        const sealed = row[column];
        if (sealed === null || sealedKeyId(sealed) === keys.dataKeyId) return [];
        const resealed = encryptField(keys, row.id, field, decryptField(keys, row.id, field, sealed));
        return [sql.fragment`${sql.identifier([column])} = ${sql.binary(resealed)}`];
      });
      if (updates.length === 0) return false;
      await tx.query(sql.unsafe`UPDATE members SET ${sql.join(updates, sql.fragment`, `)} WHERE id = ${row.id}`);
      return true;
    });
}

/**
 * Re-wraps every wrapped value of every party (each column of `columns`) under the keyring's
 * current master key; values another master key the keyring holds wrapped are opened with it.
 * One transaction per party. Afterwards the previous master key opens nothing.
 * Then each party's event-chain anchors are re-keyed (a `rekey` anchor under the new key).
 * @returns how many values were re-wrapped, by column, the values no key held opens (left as
 *   they were), and the parties whose anchors did not verify (no rekey anchor written: run events:verify).
 */
export async function rewrapUnderCurrentMasterKey(
  pool: DatabasePool,
  keyring: Keyring,
  actor: string,
  columns: readonly WrappedColumn[] = WRAPPED_COLUMNS,
): Promise<{ counts: Record<string, number>; unopened: string[]; anchorFailures: string[] }> {
  const counts: Record<string, number> = Object.fromEntries(columns.map((c) => [`${c.table}.${c.column}`, 0]));
  const unopened: string[] = [];
  const anchorFailures: string[] = [];
  for (const tenant of await listTenants(pool)) {
    await withTenant(pool, { tenantId: tenant.id, actor }, async (tx) => {
      for (const column of columns) {
        const result = await keyring.rewrap(tx, column);
        counts[`${column.table}.${column.column}`]! += result.rewrapped;
        unopened.push(...result.unopened.map((id) => `${column.table} ${id} (party ${tenant.slug})`));
      }
    });
    // The chain's anchors are MACs, not wraps: a rekey anchor under the new key vouches for them.
    // A party whose anchors do not hold keeps its re-wrap, is named, and the others go on.
    try {
      await withTenant(pool, { tenantId: tenant.id, actor }, (tx) => rekeyChainAnchors(tx, tenant.id, keyring, () => new Date()));
    } catch (err) {
      if (!(err instanceof ChainAnchorsBrokenError)) throw err;
      anchorFailures.push(`party ${tenant.slug}: ${err.message}`);
    }
  }
  return { counts, unopened, anchorFailures };
}
