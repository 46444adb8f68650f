import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { anchorChain, rekeyChainAnchors, verifyAnchoredChain } from '../../src/events/chain-anchors.ts';
import { appendToStream, verifyEventChain } from '../../src/events/event-store.ts';
import { projectRoot } from '../../src/paths.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { asDishonestOwner, rewriteEventAndRehash } from '../support/chain-tampering.ts';
import { makeTenant } from '../support/fixtures.ts';

/**
 * The event chain against the two who can touch its rows: the application role (which may set
 * settings in its own transactions) and the database owner (who may rewrite rows and recompute
 * every hash). The anchors' key comes from the master key, which neither has.
 */
let db: TestDatabase;
const master = { id: randomUUID(), key: randomBytes(32) };
const keyring = new Keyring(master);
const clock = () => new Date();

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const inParty = <T>(party: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: party.id, actor: 'user:tester' }, work);
const appendOne = (tx: TenantTransaction, party: Tenant, payload: Record<string, unknown> = {}) =>
  appendToStream(tx, { tenantId: party.id, aggregateType: 'Member', aggregateId: randomUUID(), expectedVersion: 0, events: [{ type: 'MemberRegistered', payload }], metadata: { actor: 'user:tester' } });
const ChainRow = z.object({ seq: z.bigint(), prev: z.instanceof(Buffer), hash: z.instanceof(Buffer) });
const chainRows = (tx: TenantTransaction) => tx.any(sql.type(ChainRow)`SELECT chain_seq AS seq, prev_hash AS prev, hash FROM event_store ORDER BY chain_seq`);
const suffixOf = (party: Tenant) => party.id.replaceAll('-', '');

async function anchoredParty(slug: string): Promise<Tenant> {
  const party = await makeTenant(db.app, keyring, slug);
  for (let i = 0; i < 5; i++) await inParty(party, (tx) => appendOne(tx, party, { i }));
  await inParty(party, (tx) => anchorChain(tx, party.id, keyring, clock, 'periodic'));
  await inParty(party, (tx) => appendOne(tx, party, { i: 5 }));
  await inParty(party, (tx) => anchorChain(tx, party.id, keyring, clock, 'export'));
  return party;
}

describe('the running chain head between appends of one transaction', () => {
  test('a head the application role sets in the settings itself is not trusted: the append links to the real head', async () => {
    const party = await makeTenant(db.app, keyring, 'chain-cache-forged');
    await inParty(party, async (tx) => {
      await appendOne(tx, party);
      const suffix = suffixOf(party);
      const zeros = '00'.repeat(32);
      // The settings 0014 trusted, and the current one with a made-up MAC.
      await tx.query(sql.unsafe`
        SELECT set_config(${`app.chain_seq_${suffix}`}, '100', true), set_config(${`app.chain_hash_${suffix}`}, ${zeros}, true),
               set_config(${`app.chain_${suffix}`}, pg_current_xact_id()::text || ${`:100:${zeros}:${zeros}`}, true)`);
      await appendOne(tx, party);
    });
    const rows = await inParty(party, chainRows);
    expect(rows.map((r) => r.seq)).toEqual([1n, 2n]);
    expect(rows[1]!.prev.equals(rows[0]!.hash)).toBe(true);
    expect(await inParty(party, (tx) => verifyEventChain(tx, party.id))).toEqual({ brokenAt: null, checked: 2n });
  });

  test("a genuine head from another transaction is not trusted either: it is bound to the transaction that made it", async () => {
    const party = await makeTenant(db.app, keyring, 'chain-cache-replayed');
    const suffix = suffixOf(party);
    const carried = await inParty(party, async (tx) => {
      await appendOne(tx, party);
      return tx.oneFirst(sql.type(z.object({ v: z.string() }))`SELECT current_setting(${`app.chain_${suffix}`}) AS v`);
    });
    await inParty(party, (tx) => appendOne(tx, party));
    await inParty(party, async (tx) => {
      await tx.query(sql.unsafe`SELECT set_config(${`app.chain_${suffix}`}, ${carried}, true)`);
      await appendOne(tx, party);
    });
    expect(await inParty(party, (tx) => verifyEventChain(tx, party.id))).toEqual({ brokenAt: null, checked: 3n });
  });

  test('the cache secret is out of the application role\'s reach', async () => {
    await expect(db.app.query(sql.unsafe`SELECT secret FROM event_chain_secret`)).rejects.toThrow(/permission denied/);
  });
});

describe('anchors', () => {

  test('an anchored chain verifies, and a periodic anchor of an unchanged head writes nothing', async () => {
    const party = await anchoredParty('anchors-intact');
    expect(await inParty(party, (tx) => anchorChain(tx, party.id, keyring, clock, 'periodic'))).toBeNull();
    const check = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring));
    expect(check).toMatchObject({ intact: true, brokenAt: null, checked: 6n, anchors: { anchors: 2, failure: null, anchoredThrough: 6n, unanchoredEvents: 0n } });
    await inParty(party, (tx) => appendOne(tx, party));
    expect((await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring))).anchors.unanchoredEvents).toBe(1n);
  });

  test('an owner who rewrites an event and recomputes every hash passes verify_event_chain, and fails the anchors', async () => {
    const party = await anchoredParty('anchors-rewritten');
    await rewriteEventAndRehash(db.owner, party.id, 3n);
    const check = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring));
    expect(check.brokenAt).toBeNull();
    expect(check.checked).toBe(6n);
    expect(check.intact).toBe(false);
    expect(check.anchors.failure).toMatchObject({ chainSeq: 5n, problem: expect.stringMatching(/no longer has the anchored hash/) });
  });

  test('an owner who then also rewrites the anchors cannot make their MAC', async () => {
    const party = await anchoredParty('anchors-forged');
    await rewriteEventAndRehash(db.owner, party.id, 3n);
    await asDishonestOwner(db.owner, party.id, async (tx) => {
      await tx.query(sql.unsafe`UPDATE event_chain_anchors a SET hash = e.hash FROM event_store e WHERE e.chain_seq = a.chain_seq`);
    });
    const check = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring));
    expect(check.intact).toBe(false);
    expect(check.anchors.failure).toMatchObject({ chainSeq: 5n, problem: expect.stringMatching(/MAC does not verify/) });
  });

  test('removing an anchor from the middle breaks the anchors\' own chain', async () => {
    const party = await anchoredParty('anchors-removed');
    await inParty(party, (tx) => appendOne(tx, party));
    await inParty(party, (tx) => anchorChain(tx, party.id, keyring, clock, 'periodic'));
    await asDishonestOwner(db.owner, party.id, async (tx) => {
      await tx.query(sql.unsafe`DELETE FROM event_chain_anchors WHERE reason = 'export'`);
    });
    const check = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring));
    expect(check.anchors.failure?.problem).toMatch(/does not follow the anchor before it/);
  });

  test('the application role may add anchors but not change or remove them', async () => {
    const party = await anchoredParty('anchors-append-only');
    await expect(inParty(party, (tx) => tx.query(sql.unsafe`UPDATE event_chain_anchors SET chain_seq = 0`))).rejects.toThrow(/permission denied/);
    await expect(inParty(party, (tx) => tx.query(sql.unsafe`DELETE FROM event_chain_anchors`))).rejects.toThrow(/permission denied/);
  });

  test('two anchoring runs at once do not fork the anchors: one writes, the other writes nothing', async () => {
    const party = await anchoredParty('anchors-concurrent');
    await inParty(party, (tx) => appendOne(tx, party));
    const results = await Promise.all([1, 2].map(() => inParty(party, (tx) => anchorChain(tx, party.id, keyring, clock, 'periodic'))));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect((await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring))).intact).toBe(true);
  });

  test('after a master-key rotation a rekey anchor vouches for the anchors made under the old key', async () => {
    const party = await anchoredParty('anchors-rekeyed');
    const newMaster = { id: randomUUID(), key: randomBytes(32) };
    const successor = new Keyring(newMaster);
    const duringRotation = new Keyring(newMaster, { previous: [master] });
    const unvouched = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, successor));
    expect(unvouched.anchors.failure?.problem).toMatch(/which this process does not hold/);
    // While the previous key is held, its anchors verify under it.
    expect((await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, duringRotation))).intact).toBe(true);
    // The worker restarted with the new key anchors before the re-wrap runs: the rekey must still vouch for the old anchors.
    await inParty(party, (tx) => appendOne(tx, party));
    expect(await inParty(party, (tx) => anchorChain(tx, party.id, duringRotation, clock, 'periodic'))).toMatchObject({ reason: 'periodic', masterKeyId: newMaster.id });
    expect(await inParty(party, (tx) => rekeyChainAnchors(tx, party.id, duringRotation, clock))).toMatchObject({ reason: 'rekey', masterKeyId: newMaster.id });
    expect(await inParty(party, (tx) => rekeyChainAnchors(tx, party.id, duringRotation, clock))).toBeNull();
    expect((await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, successor))).intact).toBe(true);
    await rewriteEventAndRehash(db.owner, party.id, 2n);
    expect((await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, successor))).anchors.failure?.problem).toMatch(/no longer has the anchored hash/);
  });

  test('a rekey refuses to vouch for anchors that do not hold under the old key', async () => {
    const party = await anchoredParty('anchors-rekey-refused');
    await rewriteEventAndRehash(db.owner, party.id, 2n);
    const duringRotation = new Keyring({ id: randomUUID(), key: randomBytes(32) }, { previous: [master] });
    await expect(inParty(party, (tx) => rekeyChainAnchors(tx, party.id, duringRotation, clock))).rejects.toMatchObject({ code: 'EVENT_CHAIN_BROKEN' });
  });
});

describe('what the verifier trusts', () => {
  test('the chain is rehashed outside the database: an owner whose verify_event_chain lies does not pass', async () => {
    const party = await makeTenant(db.app, keyring, 'lying-owner');
    for (let i = 0; i < 4; i++) await inParty(party, (tx) => appendOne(tx, party, { i }));
    const original = readFileSync(path.join(projectRoot, 'migrations/0009_event_store.sql'), 'utf8');
    const honest = original.slice(original.indexOf('CREATE FUNCTION verify_event_chain'), original.indexOf('REVOKE ALL ON FUNCTION verify_event_chain')).replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
    const victim = await inParty(party, (tx) => tx.oneFirst(sql.type(z.object({ p: z.bigint() }))`SELECT position AS p FROM event_store WHERE chain_seq = 2`));
    await asDishonestOwner(db.owner, party.id, async (tx) => {
      await tx.query(sql.unsafe`UPDATE event_store SET payload = '{"forged": true}' WHERE chain_seq = 2`);
      await tx.query(sql.unsafe`CREATE OR REPLACE FUNCTION verify_event_chain(tenant uuid, OUT first_broken_position bigint, OUT checked bigint)
        LANGUAGE sql STABLE AS $$ SELECT NULL::bigint, count(*) FROM event_store WHERE tenant_id = tenant $$`);
    });
    try {
      expect(await inParty(party, (tx) => verifyEventChain(tx, party.id))).toEqual({ brokenAt: null, checked: 4n });
      expect(await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring))).toMatchObject({ brokenAt: victim, checked: 2n, intact: false });
    } finally {
      const owner = new pg.Client({ connectionString: db.ownerUrl });
      await owner.connect();
      await owner.query(honest).finally(() => owner.end());
    }
  });

  test('events that wait too long for an anchor make the chain not intact: removing the newest anchors, or all, does not pass', async () => {
    const party = await anchoredParty('anchors-stale');
    await inParty(party, (tx) => appendOne(tx, party));
    const later = (ms: number) => ({ maxUnanchoredMs: 60_000, now: new Date(Date.now() + ms) });
    expect(await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring, later(0)))).toMatchObject({ intact: true, staleSince: null });
    const stale = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring, later(120_000)));
    expect(stale).toMatchObject({ intact: false, brokenAt: null, anchors: { failure: null, unanchoredEvents: 1n } });
    expect(stale.staleSince).toBeInstanceOf(Date);
    await asDishonestOwner(db.owner, party.id, async (tx) => {
      await tx.query(sql.unsafe`DELETE FROM event_chain_anchors`);
    });
    const bare = await inParty(party, (tx) => verifyAnchoredChain(tx, party.id, keyring, later(120_000)));
    expect(bare).toMatchObject({ intact: false, anchors: { anchors: 0, failure: null, unanchoredEvents: 7n } });
  });
});
