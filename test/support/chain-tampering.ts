import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';

/** As the database owner, with the append-only triggers off: what a dishonest owner can do. */
export async function asDishonestOwner(owner: DatabasePool, tenantId: string, statements: (tx: TenantTransaction) => Promise<void>): Promise<void> {
  await owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${tenantId}, true)`);
    await tx.query(sql.unsafe`ALTER TABLE event_store DISABLE TRIGGER event_store_append_only`);
    await tx.query(sql.unsafe`ALTER TABLE event_chain_anchors DISABLE TRIGGER event_chain_anchors_append_only`);
    await statements(tx);
    await tx.query(sql.unsafe`ALTER TABLE event_store ENABLE TRIGGER event_store_append_only`);
    await tx.query(sql.unsafe`ALTER TABLE event_chain_anchors ENABLE TRIGGER event_chain_anchors_append_only`);
  });
}

const Hash = z.object({ h: z.instanceof(Buffer) });

/**
 * Rewrites one event's payload and recomputes every hash from it to the head, and the head
 * row: afterwards verify_event_chain passes again. Only the anchors can tell.
 */
export async function rewriteEventAndRehash(owner: DatabasePool, tenantId: string, chainSeq: bigint): Promise<void> {
  await asDishonestOwner(owner, tenantId, async (tx) => {
    await tx.query(sql.unsafe`UPDATE event_store SET payload = '{"rewritten": true}' WHERE chain_seq = ${chainSeq}`);
    let prev = await tx.oneFirst(sql.type(Hash)`SELECT coalesce((SELECT hash FROM event_store WHERE chain_seq = ${chainSeq - 1n}), '\\x'::bytea) AS h`);
    const seqs = await tx.anyFirst(sql.type(z.object({ s: z.bigint() }))`SELECT chain_seq AS s FROM event_store WHERE chain_seq >= ${chainSeq} ORDER BY chain_seq`);
    for (const seq of seqs) {
      prev = await tx.oneFirst(sql.type(Hash)`
        UPDATE event_store SET prev_hash = ${sql.binary(prev)}, hash = event_row_hash(${sql.binary(prev)}, event_store)
        WHERE chain_seq = ${seq} RETURNING hash AS h`);
    }
    await tx.query(sql.unsafe`UPDATE event_chain_heads SET last_hash = ${sql.binary(prev)} WHERE tenant_id = ${tenantId}`);
  });
}
