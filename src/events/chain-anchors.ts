import { createHash, createHmac } from 'node:crypto';
import { sameBytes } from '../crypto/keyed-mac.ts';
import { sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';

/**
 * Anchors of a tenant's event chain. verify_event_chain proves the rows link up, but whoever
 * owns the database can rewrite a row and recompute every hash after it. An anchor is the
 * chain's head (sequence number and hash) with a MAC under a key derived from the master key,
 * which never reaches the database: a rewrite changes the hash at every anchored position
 * after it, and the owner cannot make a new MAC. Anchors chain too (each MACs the previous
 * one's MAC), so removing one from the middle shows; removing the newest ones does not, which
 * is why the verifier reports how many events stand after the newest anchor and since when,
 * and why every anchor is also logged outside the database by whoever writes it.
 */

export const CHAIN_ANCHOR_PURPOSE = 'event-chain-anchor';

export interface AnchorKey {
  masterKeyId: string;
  key: Buffer;
}

/** Where anchor keys come from: the keyring (derived from its master key, and from the previous ones during a rotation). */
export interface AnchorKeySource {
  derivedKey(purpose: string, tenantId: string): AnchorKey;
  heldDerivedKeys(purpose: string, tenantId: string): AnchorKey[];
}

export type AnchorReason = 'periodic' | 'export' | 'rekey';

export interface ChainAnchor {
  chainSeq: bigint;
  hash: Buffer;
  anchoredAt: Date;
  reason: AnchorReason;
  masterKeyId: string;
  mac: Buffer;
}

const AnchorRow = z.object({
  id: z.bigint(),
  chainSeq: z.bigint(),
  hash: z.instanceof(Buffer),
  anchoredAt: z.number(),
  reason: z.enum(['periodic', 'export', 'rekey']),
  masterKeyId: z.string(),
  previousMac: z.instanceof(Buffer).nullable(),
  mac: z.instanceof(Buffer),
});
type AnchorRow = z.infer<typeof AnchorRow>;

const HeadRow = z.object({ chainSeq: z.bigint(), hash: z.instanceof(Buffer) });
const EMPTY_CHAIN = { chainSeq: 0n, hash: Buffer.alloc(0) };

interface AnchorContent {
  tenantId: string;
  chainSeq: bigint;
  hash: Buffer;
  anchoredAt: Date;
  reason: AnchorReason;
  masterKeyId: string;
  previousMac: Buffer | null;
}

function anchorMac(key: Buffer, a: AnchorContent): Buffer {
  const fields = ['event-chain-anchor/v1', a.tenantId, a.chainSeq.toString(), a.hash.toString('hex'), a.anchoredAt.toISOString(), a.reason, a.masterKeyId, a.previousMac?.toString('hex') ?? ''];
  return createHmac('sha256', key).update(fields.join('\n')).digest();
}

/** Equal bytes, or both absent (the first anchor has no previous MAC). */
function sameOrBothAbsent(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : sameBytes(a, b);
}

async function chainHead(tx: TenantTransaction): Promise<{ chainSeq: bigint; hash: Buffer }> {
  return (await tx.maybeOne(sql.type(HeadRow)`
    SELECT chain_seq AS "chainSeq", hash FROM event_store ORDER BY chain_seq DESC LIMIT 1`)) ?? EMPTY_CHAIN;
}

const ANCHOR_COLUMNS = sql.fragment`id, chain_seq AS "chainSeq", hash, anchored_at AS "anchoredAt", reason, master_key_id AS "masterKeyId", previous_mac AS "previousMac", mac`;

/**
 * Anchors the tenant's chain at its current head, in the caller's tenant transaction. A
 * periodic anchor is skipped when the newest anchor already covers the head under the same
 * master key; an anchor written at the same moment by another run wins (nothing is written).
 * @returns the anchor written, or null when none was.
 */
export async function anchorChain(tx: TenantTransaction, tenantId: string, keys: AnchorKeySource, clock: () => Date, reason: AnchorReason): Promise<ChainAnchor | null> {
  const { masterKeyId, key } = keys.derivedKey(CHAIN_ANCHOR_PURPOSE, tenantId);
  const head = await chainHead(tx);
  const newest = await tx.maybeOne(sql.type(AnchorRow)`SELECT ${ANCHOR_COLUMNS} FROM event_chain_anchors ORDER BY id DESC LIMIT 1`);
  if (reason === 'periodic' && newest && newest.chainSeq === head.chainSeq && newest.masterKeyId === masterKeyId) return null;
  const content: AnchorContent = { tenantId, ...head, anchoredAt: clock(), reason, masterKeyId, previousMac: newest?.mac ?? null };
  const mac = anchorMac(key, content);
  try {
    await tx.transaction(async (savepoint) => {
      await savepoint.query(sql.unsafe`
        INSERT INTO event_chain_anchors (tenant_id, chain_seq, hash, anchored_at, reason, master_key_id, previous_mac, mac)
        VALUES (${tenantId}, ${head.chainSeq}, ${sql.binary(head.hash)}, ${content.anchoredAt.toISOString()}, ${reason}, ${masterKeyId},
                ${content.previousMac ? sql.binary(content.previousMac) : null}, ${sql.binary(mac)})`);
    });
  } catch (err) {
    if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'event_chain_anchors_one_successor') return null;
    throw err;
  }
  return { chainSeq: head.chainSeq, hash: head.hash, anchoredAt: content.anchoredAt, reason, masterKeyId, mac };
}

export interface AnchorProblem {
  anchorId: bigint;
  chainSeq: bigint;
  problem: string;
}

export interface AnchorVerification {
  anchors: number;
  /** The first anchor that does not hold, and why; null when all hold. */
  failure: AnchorProblem | null;
  /** The newest anchor: events up to its sequence number are vouched for. */
  anchoredThrough: bigint | null;
  lastAnchoredAt: Date | null;
  /** Events after the newest anchor: only the hash chain vouches for them. */
  unanchoredEvents: bigint;
}

const AnchorWithEvent = AnchorRow.extend({ eventHash: z.instanceof(Buffer).nullable() });

/**
 * Checks every anchor of the tenant: its MAC under the key derived from the master key that
 * made it (the current one, or a previous one held during a rotation), its link to the anchor
 * before it, and that the event it names still has the anchored hash. An anchor made under a
 * master key not held is accepted only when a later `rekey` anchor under the current one
 * (written by the master-key rotation after verifying it) vouches for it.
 */
export async function verifyChainAnchors(tx: TenantTransaction, tenantId: string, keys: AnchorKeySource): Promise<AnchorVerification> {
  const { masterKeyId } = keys.derivedKey(CHAIN_ANCHOR_PURPOSE, tenantId);
  const held = new Map(keys.heldDerivedKeys(CHAIN_ANCHOR_PURPOSE, tenantId).map((k) => [k.masterKeyId, k.key]));
  const rows = await tx.any(sql.type(AnchorWithEvent)`
    SELECT a.id, a.chain_seq AS "chainSeq", a.hash, a.anchored_at AS "anchoredAt", a.reason, a.master_key_id AS "masterKeyId",
           a.previous_mac AS "previousMac", a.mac, CASE WHEN a.chain_seq = 0 THEN '\\x'::bytea ELSE e.hash END AS "eventHash"
    FROM event_chain_anchors a LEFT JOIN event_store e ON e.tenant_id = a.tenant_id AND e.chain_seq = a.chain_seq
    ORDER BY a.id`);
  const head = await chainHead(tx);
  const lastRekey = rows.findLastIndex((r) => r.reason === 'rekey' && r.masterKeyId === masterKeyId);
  const problemOf = (row: AnchorRow & { eventHash: Buffer | null }, index: number): string | null => {
    const before = index > 0 ? rows[index - 1]! : null;
    if (!sameOrBothAbsent(row.previousMac, before?.mac ?? null)) return 'does not follow the anchor before it: an anchor was removed or altered';
    if (before && row.chainSeq < before.chainSeq) return 'anchors an earlier position than the anchor before it';
    const key = held.get(row.masterKeyId);
    if (key) {
      const content: AnchorContent = { tenantId, ...row, anchoredAt: new Date(row.anchoredAt) };
      if (!sameBytes(anchorMac(key, content), row.mac)) return 'its MAC does not verify: the anchor was forged or altered';
    } else if (index > lastRekey) {
      return `was made under master key ${row.masterKeyId}, which this process does not hold, and no rekey anchor vouches for it`;
    }
    if (row.eventHash === null) return `the event it anchors (chain position ${row.chainSeq}) is missing`;
    if (!sameBytes(row.eventHash, row.hash)) return `the event at chain position ${row.chainSeq} no longer has the anchored hash: events were rewritten`;
    return null;
  };
  let failure: AnchorProblem | null = null;
  for (const [index, row] of rows.entries()) {
    const problem = problemOf(row, index);
    if (problem) {
      failure = { anchorId: row.id, chainSeq: row.chainSeq, problem };
      break;
    }
  }
  const newest = rows.at(-1);
  return {
    anchors: rows.length,
    failure,
    anchoredThrough: newest?.chainSeq ?? null,
    lastAnchoredAt: newest ? new Date(newest.anchoredAt) : null,
    unanchoredEvents: head.chainSeq - (newest?.chainSeq ?? 0n),
  };
}

const ChainRow = z.object({
  position: z.bigint(),
  chainSeq: z.bigint(),
  prevHash: z.instanceof(Buffer),
  hash: z.instanceof(Buffer),
  content: z.string(),
  recordedAt: z.number(),
});

const WALK_BATCH = 5_000;

/**
 * Walks the tenant's hash chain here, not in the database: the row content is read as the
 * schema's event_row_hash (0009) joins it, and hashed with Node's SHA-256, so an owner who
 * replaces verify_event_chain or event_row_hash with functions that lie does not change the
 * answer. Reads in batches by chain position.
 * @returns the position of the first row whose link or hash does not match (null when all
 *   do), how many rows it checked, and when the first row after `afterSeq` was recorded.
 */
export async function walkEventChain(tx: TenantTransaction, afterSeq = 0n): Promise<{ brokenAt: bigint | null; checked: bigint; firstRecordedAfter: Date | null }> {
  let expected: Buffer = Buffer.alloc(0);
  let checked = 0n;
  let firstRecordedAfter: Date | null = null;
  for (;;) {
    const rows = await tx.any(sql.type(ChainRow)`
      SELECT position, chain_seq AS "chainSeq", prev_hash AS "prevHash", hash, recorded_at AS "recordedAt",
             concat_ws('|', tenant_id, chain_seq, aggregate_type, aggregate_id, version, event_type, payload::text, metadata::text, idempotency_key,
                       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')) AS content
      FROM event_store WHERE chain_seq > ${checked} ORDER BY chain_seq LIMIT ${WALK_BATCH}`);
    for (const row of rows) {
      checked += 1n;
      const hash = createHash('sha256').update(expected).update(row.content, 'utf8').digest();
      if (row.chainSeq !== checked || !row.prevHash.equals(expected) || !row.hash.equals(hash)) return { brokenAt: row.position, checked, firstRecordedAfter };
      if (firstRecordedAfter === null && row.chainSeq > afterSeq) firstRecordedAfter = new Date(row.recordedAt);
      expected = row.hash;
    }
    if (rows.length < WALK_BATCH) return { brokenAt: null, checked, firstRecordedAfter };
  }
}

export interface ChainVerification {
  /** The hash chain walked and rehashed here: the first broken position, or null. */
  brokenAt: bigint | null;
  checked: bigint;
  anchors: AnchorVerification;
  /**
   * Events have stood unanchored longer than allowed (`maxUnanchoredMs`): the anchors that
   * should cover them are missing (an owner may have removed the newest), or anchoring stopped.
   */
  staleSince: Date | null;
  /** The rows link up, every anchor still matches them, and no event waits too long for one. */
  intact: boolean;
}

/**
 * The whole check: the hash chain, then the anchors that keep its owner honest. With
 * `maxUnanchoredMs` (e.g. twice the anchoring interval), an event older than that with no anchor
 * after it makes the chain not intact: deleting the newest anchors, or all, does not pass.
 */
export async function verifyAnchoredChain(tx: TenantTransaction, tenantId: string, keys: AnchorKeySource, options: { maxUnanchoredMs?: number; now?: Date } = {}): Promise<ChainVerification> {
  const anchors = await verifyChainAnchors(tx, tenantId, keys);
  const { brokenAt, checked, firstRecordedAfter } = await walkEventChain(tx, anchors.anchoredThrough ?? 0n);
  const now = options.now ?? new Date();
  const staleSince = options.maxUnanchoredMs !== undefined && firstRecordedAfter && now.getTime() - firstRecordedAfter.getTime() > options.maxUnanchoredMs ? firstRecordedAfter : null;
  return { brokenAt, checked, anchors, staleSince, intact: brokenAt === null && anchors.failure === null && staleSince === null };
}

export class ChainAnchorsBrokenError extends DomainError {
  override readonly name = 'ChainAnchorsBrokenError';

  constructor(problem: AnchorProblem) {
    super('EVENT_CHAIN_BROKEN', `anchor ${problem.anchorId} (chain position ${problem.chainSeq}) ${problem.problem}`);
  }
}

/** The same keys as `keys`, but only the current master key's: what a verifier holds once a rotation ends. */
function currentOnly(keys: AnchorKeySource): AnchorKeySource {
  return {
    derivedKey: (purpose, tenantId) => keys.derivedKey(purpose, tenantId),
    heldDerivedKeys: (purpose, tenantId) => [keys.derivedKey(purpose, tenantId)],
  };
}

/**
 * For a master-key rotation, with the keyring holding the new master key and the previous one:
 * verifies every anchor, then, unless the anchors would verify under the new key alone (every
 * anchor under another key already vouched for by a later `rekey` anchor), writes a `rekey`
 * anchor under the new key, which vouches for all anchors before it once the previous key is gone.
 * @throws ChainAnchorsBrokenError when an anchor does not hold (nothing is written).
 */
export async function rekeyChainAnchors(tx: TenantTransaction, tenantId: string, keys: AnchorKeySource, clock: () => Date): Promise<ChainAnchor | null> {
  const { failure } = await verifyChainAnchors(tx, tenantId, keys);
  if (failure) throw new ChainAnchorsBrokenError(failure);
  if ((await verifyChainAnchors(tx, tenantId, currentOnly(keys))).failure === null) return null;
  return anchorChain(tx, tenantId, keys, clock, 'rekey');
}
