import { randomUUID } from 'node:crypto';
import { readdir, readFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { appendToStream, readStream, verifyEventChain, type NewEvent } from '../../src/events/event-store.ts';
import { importMembers } from '../../src/imports/member-import.ts';
import { rollBackImport } from '../../src/imports/import-rollback.ts';
import { writeSyntheticMembers } from '../../src/imports/synthetic-members.ts';
import type { MemberEvent } from '../../src/members/events.ts';
import { evolve, initialMemberState, type MemberState } from '../../src/members/member-aggregate.ts';
import { projectRoot } from '../../src/paths.ts';
import { countsAsOf, rebuildStatusHistory, statusEffects, unmappedMemberEventTypes } from '../../src/statistics/status-history.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';
import { runOperatorCli } from '../support/cli-process.ts';

/*
 * The as-of-date projection (migrations/0025) against an independent replay of the member
 * streams. Events are recorded on past days by a test clock: a trigger that runs after the
 * chain trigger, sets recorded_at from test_clock and recomputes the row's hash (and the
 * transaction's running chain head), so the chain still verifies.
 */

let db: TestDatabase;
let keyring: Keyring;
let east: MiniGeography;
let west: MiniGeography;
let party: Tenant;
let rival: Tenant;

const as = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);

async function setClock(at: string | null): Promise<void> {
  await db.owner.query(sql.unsafe`UPDATE test_clock SET at = ${at}::timestamptz`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  keyring = new Keyring(testMasterKey());
  [east, west] = [await seedMiniGeography(db.owner, 'H1'), await seedMiniGeography(db.owner, 'H2')];
  party = await makeTenant(db.app, keyring, 'history-party', 'HP');
  rival = await makeTenant(db.app, keyring, 'history-rival', 'HR');
  await db.owner.query(sql.unsafe`CREATE TABLE test_clock (at timestamptz)`);
  await db.owner.query(sql.unsafe`INSERT INTO test_clock VALUES (NULL)`);
  await db.owner.query(sql.unsafe`GRANT SELECT ON test_clock TO sadasya_app`);
  await db.owner.query(sql.unsafe`
    CREATE FUNCTION test_event_clock() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      clock timestamptz := (SELECT at FROM test_clock);
      setting text := 'app.chain_' || replace(NEW.tenant_id::text, '-', '');
      running text;
    BEGIN
      IF clock IS NULL THEN RETURN NEW; END IF;
      NEW.recorded_at := clock;
      NEW.hash := event_row_hash(NEW.prev_hash, NEW);
      -- the running head chain_event keeps for the transaction's next append (migrations/0020)
      running := concat_ws(':', pg_current_xact_id()::text, NEW.chain_seq, encode(NEW.hash, 'hex'));
      PERFORM set_config(setting, running || ':' || encode(hmac(convert_to(running, 'UTF8'), (SELECT secret FROM event_chain_secret), 'sha256'), 'hex'), true);
      RETURN NEW;
    END $$`);
  await db.owner.query(sql.unsafe`
    CREATE TRIGGER event_store_chain_test_clock BEFORE INSERT ON event_store FOR EACH ROW EXECUTE FUNCTION test_event_clock()`);
}, 120_000);
afterAll(() => db.close());

// ---- the independent replay ------------------------------------------------------------

/** Status after the events of issue #14, as the shared names say (the aggregate does not know them yet). */
const LATER_STATUS: Record<string, string | undefined> = {
  MemberSuspended: 'suspended', MemberSuspensionLifted: 'active', MemberExpelled: 'expelled', MemberResigned: 'resigned',
  MemberDied: 'deceased', MemberReinstated: 'active', MemberExpulsionProposed: undefined, MemberTransferRequested: undefined,
  MemberTransferRefused: undefined, MemberTransferred: undefined, TermStarted: undefined,
};

interface Replayed { state: MemberState; status: string | null; ward: string | null }

/** One member's status and ward after the given events: the aggregate's evolve, and the shared names for the newer events. */
function replayMember(events: readonly { type: string; payload: Record<string, unknown> }[]): Replayed {
  let r: Replayed = { state: initialMemberState, status: null, ward: null };
  for (const event of events) {
    if (event.type in LATER_STATUS) {
      const status = LATER_STATUS[event.type] ?? r.status;
      const ward = event.type === 'MemberTransferred' ? String(event.payload.toWardId) : r.ward;
      r = { ...r, status, ward };
      continue;
    }
    const state = evolve(r.state, event as MemberEvent);
    const ward = typeof event.payload.wardId === 'string' ? event.payload.wardId : r.ward;
    r = state.status === 'new' ? { state, status: null, ward: null } : { state, status: state.status === r.state.status ? r.status : state.status, ward };
  }
  return r;
}

/** End of `day` in Asia/Kathmandu (UTC+05:45), as epoch ms. */
const endOfDay = (day: string) => Date.parse(`${day}T00:00:00+05:45`) + 86_400_000;

/** Counts per node and status at the end of `day`, replaying every member stream of the tenant. */
async function replayCounts(tenant: Tenant, day: string): Promise<Record<string, Record<string, number>>> {
  return as(tenant, async (tx) => {
    const members = await tx.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT DISTINCT aggregate_id AS id FROM event_store WHERE aggregate_type = 'Member'`);
    const ancestors = new Map<string, string[]>();
    for (const row of await tx.any(sql.type(z.object({ ward: z.string(), node: z.string() }))`
      SELECT descendant_id AS ward, ancestor_id AS node FROM geography_closure`)) {
      ancestors.set(row.ward, [...(ancestors.get(row.ward) ?? []), row.node]);
    }
    const counts: Record<string, Record<string, number>> = {};
    const cutoff = endOfDay(day);
    for (const id of members) {
      const events = (await readStream(tx, id)).filter((e) => e.recordedAt < cutoff);
      const { status, ward } = replayMember(events);
      if (status === null || ward === null) continue;
      for (const node of ancestors.get(ward) ?? []) {
        const byStatus = (counts[node] ??= {});
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      }
    }
    return counts;
  });
}

async function projectedCounts(tenant: Tenant, day: string, nodes: readonly string[]): Promise<Record<string, Record<string, number>>> {
  return as(tenant, async (tx) => {
    const out: Record<string, Record<string, number>> = {};
    for (const node of nodes) {
      const counts = await countsAsOf(tx, node, day);
      if (Object.keys(counts).length > 0) out[node] = counts;
    }
    return out;
  });
}

const allNodes = () => [east, west].flatMap((g) => [g.provinceId, g.districtId, g.localLevelId, ...g.wardIds]);

// ---- the story ---------------------------------------------------------------------------

const versions = new Map<string, number>();
async function append(tenant: Tenant, memberId: string, at: string, events: NewEvent[]): Promise<void> {
  await setClock(at);
  try {
    await as(tenant, async (tx) => {
      const expectedVersion = versions.get(memberId) ?? 0;
      await appendToStream(tx, { tenantId: tenant.id, aggregateType: 'Member', aggregateId: memberId, expectedVersion, events, metadata: { actor: 'user:test' } });
      versions.set(memberId, expectedVersion + events.length);
    });
  } finally {
    await setClock(null);
  }
}

const registered = (wardId: string): NewEvent => ({ type: 'MemberRegistered', payload: { wardId, committeeId: null, geographyPath: 'x' } });
const invoice = (): NewEvent => ({ type: 'InvoiceIssued', payload: { invoiceId: randomUUID(), amountMinor: 100, currency: 'NPR', dueAt: '2026-12-31T00:00:00Z' } });
const paidAndActive = (n: number): NewEvent[] => [
  { type: 'PaymentReceived', payload: { invoiceId: 'i', paymentId: randomUUID(), amountMinor: 100, currency: 'NPR', provider: 'manual', providerRef: 'r', paidAt: '2026-01-01T00:00:00Z' } },
  { type: 'MemberActivated', payload: { memberNumber: `HP-${n}` } },
  { type: 'IdCardIssued', payload: { cardId: randomUUID(), tokenId: randomUUID(), validUntil: '2030-01-01' } },
];

// Kathmandu days; times are UTC. 18:20Z is 00:05 the next day in Kathmandu.
const DAYS = ['2026-01-05', '2026-02-10', '2026-02-11', '2026-03-15', '2026-04-20'] as const;

/** A deterministic pseudo-random walk through the lifecycles, over DAYS. */
async function tellStory(tenant: Tenant, geography: MiniGeography, other: MiniGeography, members: number): Promise<void> {
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let n = 0; n < members; n++) {
    const id = randomUUID();
    const ward = geography.wardIds[n % 3]!;
    const fate = Math.floor(next() * 10);
    await append(tenant, id, '2026-01-05T06:00:00Z', [registered(ward)]);
    if (fate === 0) { await append(tenant, id, '2026-02-10T08:00:00Z', [{ type: 'MemberRejected', payload: { by: 'u', reason: 'not eligible' } }]); continue; }
    if (fate === 1) { await append(tenant, id, '2026-01-05T09:00:00Z', [{ type: 'MemberWithdrawn', payload: { reason: 'changed mind' } }]); continue; }
    await append(tenant, id, '2026-02-10T08:00:00Z', [{ type: 'MemberApproved', payload: { by: 'u', note: null } }, invoice()]);
    if (fate === 2) {
      await append(tenant, id, '2026-03-15T07:00:00Z', [{ type: 'InvoiceVoided', payload: { invoiceId: 'i', reason: 'expired' } }, { type: 'MemberLapsed', payload: { invoiceId: 'i' } }]);
      continue;
    }
    // Paid at 00:05 on 11 February in Kathmandu (still the 10th in UTC).
    await append(tenant, id, '2026-02-10T18:20:00Z', paidAndActive(n));
    if (fate === 3) {
      await append(tenant, id, '2026-03-15T05:00:00Z', [{ type: 'MemberSuspended', payload: { until: '2026-04-01', reasonCode: 'conduct' } }]);
      await append(tenant, id, '2026-04-20T05:00:00Z', [{ type: 'MemberSuspensionLifted', payload: { early: false } }]);
    } else if (fate === 4) {
      await append(tenant, id, '2026-03-15T05:00:00Z', [{ type: 'MemberTransferRequested', payload: { fromWardId: ward, toWardId: other.wardIds[0] } }]);
      await append(tenant, id, '2026-04-20T05:00:00Z', [{ type: 'MemberTransferred', payload: { fromWardId: ward, toWardId: other.wardIds[0] } }]);
    } else if (fate === 5) {
      await append(tenant, id, '2026-03-15T05:00:00Z', [{ type: 'MemberExpulsionProposed', payload: { by: 'u', reasonCode: 'conduct' } },
        { type: 'MemberExpelled', payload: { proposedBy: 'u', confirmedBy: 'v', reasonCode: 'conduct' } }]);
    } else if (fate === 6) {
      await append(tenant, id, '2026-04-20T05:00:00Z', [{ type: 'MemberResigned', payload: { via: 'staff', reasonCode: 'personal' } }]);
    } else if (fate === 7) {
      // Several moves in one append: transferred and then died, in one statement.
      await append(tenant, id, '2026-03-15T05:00:00Z', [{ type: 'MemberTransferred', payload: { fromWardId: ward, toWardId: other.wardIds[1] } },
        { type: 'MemberDied', payload: { recordedBy: 'u' } }]);
    } else if (fate === 8) {
      // The term lapsed unpaid, then the member paid within the window and was reinstated.
      await append(tenant, id, '2026-03-15T05:00:00Z', [{ type: 'MemberTermLapsed', payload: { termNumber: 1, paidUntil: '2026-01-14', graceUntil: '2026-03-15' } }]);
      await append(tenant, id, '2026-04-20T05:00:00Z', [{ type: 'RenewalPaymentReceived', payload: { invoiceId: 'r', paymentId: 'p2', amountMinor: 1, currency: 'NPR', provider: 'manual', providerRef: `r-${n}`, paidAt: '2026-04-20T05:00:00Z' } },
        { type: 'MemberReinstated', payload: { termNumber: 2, paymentId: 'p2' } }]);
    } else if (fate === 9) {
      await append(tenant, id, '2026-04-20T05:00:00Z', [{ type: 'MemberTermLapsed', payload: { termNumber: 1, paidUntil: '2026-02-19', graceUntil: '2026-04-20' } }]);
    }
  }
}

async function importSome(tenant: Tenant, count: number, seed: number, at: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'history-import-'));
  const file = path.join(dir, 'members.csv');
  const wards = (await as(tenant, (tx) => tx.any(sql.type(z.object({ id: z.string(), code: z.string(), nameEn: z.string() }))`
    SELECT id, code, name_en AS "nameEn" FROM geography_nodes WHERE id = ANY(${sql.array(east.wardIds, 'uuid')}) ORDER BY code`)));
  await writeSyntheticMembers(file, { count, seed, wards, memberNumberPrefix: `IMP${seed}` });
  await setClock(at);
  try {
    const outcome = await importMembers(db.app, keyring, { file, tenant, actor: 'cli:test', batchSize: 7, skipInvalid: true, now: new Date(at) },
      { validated: () => undefined, loading: () => undefined, batchCommitted: () => undefined });
    if (outcome.kind !== 'imported') throw new Error(JSON.stringify(outcome));
    return outcome.importId;
  } finally {
    await setClock(null);
  }
}

let importToRollBack: string;

test('the projection equals a replay of the member streams at every node on five dates, imports and a rollback included', async () => {
  await tellStory(party, east, west, 60);
  await importSome(party, 20, 1, '2026-02-11T03:00:00Z');
  importToRollBack = await importSome(party, 15, 2, '2026-03-15T03:00:00Z');
  await setClock('2026-04-20T03:00:00Z');
  try {
    await rollBackImport(db.app, { tenantId: party.id, actor: 'cli:test' }, importToRollBack, 4, () => undefined);
  } finally {
    await setClock(null);
  }
  // The rival party: same wards, its own story, never in the party's counts.
  await tellStory(rival, east, west, 10);

  for (const day of DAYS) {
    const expected = await replayCounts(party, day);
    expect({ day, counts: await projectedCounts(party, day, allNodes()) }).toEqual({ day, counts: expected });
  }
  const before = await projectedCounts(party, '2026-01-04', allNodes());
  expect(before).toEqual({});
  // The story is not trivial: on the last day members are in many statuses and both geographies.
  const statusesOn = async (day: string) => Object.keys((await projectedCounts(party, day, [east.provinceId]))[east.provinceId] ?? {});
  expect(await statusesOn('2026-01-05')).toEqual(['awaiting_approval', 'withdrawn'].sort());
  expect(await statusesOn('2026-02-10')).toEqual(expect.arrayContaining(['awaiting_payment', 'rejected', 'withdrawn']));
  expect(await statusesOn('2026-03-15')).toEqual(expect.arrayContaining(['active', 'expired', 'suspended', 'expelled', 'lapsed']));
  expect(await statusesOn('2026-04-20')).toEqual(expect.arrayContaining(['active', 'resigned', 'lapsed']));
  expect(await statusesOn('2026-04-20')).not.toContain('suspended');
  const last = await projectedCounts(party, '2026-04-20', allNodes());
  expect(last[west.provinceId]).toMatchObject({ active: expect.any(Number), deceased: expect.any(Number) });
  // The imports count: the first from 11 February, the rolled-back one only from 15 March to 19 April.
  const imports = async (day: string) => (await replayCounts(party, day))[east.provinceId]?.active ?? 0;
  expect((await imports('2026-02-11')) - (await imports('2026-02-10'))).toBeGreaterThanOrEqual(20);
  expect(await projectedCounts(party, '2026-04-19', allNodes())).toEqual(await replayCounts(party, '2026-04-19'));
  // The chain the test clock wrote still verifies.
  expect((await as(party, (tx) => verifyEventChain(tx, party.id))).brokenAt).toBeNull();
}, 240_000);

test('a payment at 00:05 in Kathmandu counts on that Kathmandu day, not the UTC one', async () => {
  const id = randomUUID();
  const ward = west.wardIds[2]!;
  await append(party, id, '2026-06-01T06:00:00Z', [registered(ward), { type: 'MemberApproved', payload: { by: 'u', note: null } }, invoice()]);
  await append(party, id, '2026-06-01T18:20:00Z', paidAndActive(999));
  const at = (day: string) => as(party, (tx) => countsAsOf(tx, ward, day));
  expect(await at('2026-06-01')).toEqual({ awaiting_payment: 1 });
  expect(await at('2026-06-02')).toEqual({ active: 1 });
});

test('rebuilding from the events alone finds the incremental projection equal, and repairs one made wrong', async () => {
  const clean = await as(party, (tx) => rebuildStatusHistory(tx, party.id));
  expect(clean).toMatchObject({ differingRows: 0, unmappedEventTypes: [] });
  expect(clean.changes).toBeGreaterThan(100);
  const truth = await projectedCounts(party, '2026-04-20', allNodes());
  await db.owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${party.id}, true)`);
    await tx.query(sql.unsafe`UPDATE member_status_daily SET delta = delta + 5 WHERE geography_id = ${east.districtId} AND day = '2026-03-15' AND status = 'active'`);
  });
  expect((await projectedCounts(party, '2026-04-20', allNodes()))[east.districtId]).not.toEqual(truth[east.districtId]);
  const repaired = await as(party, (tx) => rebuildStatusHistory(tx, party.id));
  expect(repaired.differingRows).toBe(1);
  expect(await projectedCounts(party, '2026-04-20', allNodes())).toEqual(truth);
  // The rival's projection is its own: untouched by the party's rebuilds.
  for (const day of DAYS) expect(await projectedCounts(rival, day, allNodes())).toEqual(await replayCounts(rival, day));
});

/** The operator CLI against the test database. */
const cli = (args: string[]) => runOperatorCli(args, { DATABASE_URL: db.appUrl, DATABASE_OWNER_URL: db.ownerUrl });

test('stats:rebuild-history reports a projection made wrong, repairs it, then finds it equal; an unknown party exits 1', async () => {
  const truth = await projectedCounts(party, '2026-04-20', allNodes());
  await db.owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${party.id}, true)`);
    await tx.query(sql.unsafe`UPDATE member_status_daily SET delta = delta - 2 WHERE geography_id = ${east.provinceId} AND day = '2026-02-11' AND status = 'active'`);
  });
  const repair = await cli(['stats:rebuild-history', '--tenant', party.slug]);
  expect([repair.code, repair.stderr]).toEqual([0, '']);
  expect(repair.stdout).toMatch(/Rebuilt the membership history of history-party from its events: \d+ change\(s\), \d+ daily row\(s\)\n {2}1 daily row\(s\) differed/);
  expect(await projectedCounts(party, '2026-04-20', allNodes())).toEqual(truth);
  expect((await cli(['stats:rebuild-history', '--tenant', party.slug])).stdout).toContain('equal to the projection it replaced');
  const unknown = await cli(['stats:rebuild-history', '--tenant', 'no-such-party']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('no-such-party');
}, 120_000);

test('a rebuild for another party than the transaction\'s is refused', async () => {
  await expect(as(party, (tx) => rebuildStatusHistory(tx, rival.id))).rejects.toThrow(/not the tenant of this transaction/);
});

test('the application role reads its own party\'s projection only, and cannot write it', async () => {
  const seen = await as(rival, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM member_status_daily WHERE tenant_id <> ${rival.id}`));
  expect(seen).toBe(0);
  await expect(as(party, (tx) => tx.query(sql.unsafe`UPDATE member_status_daily SET delta = 0`))).rejects.toThrow(/permission denied/);
  await expect(as(party, (tx) => tx.query(sql.unsafe`INSERT INTO member_status_changes (tenant_id, member_id, position, recorded_at, day)
    VALUES (${party.id}, ${randomUUID()}, 1, now(), current_date)`))).rejects.toThrow(/permission denied/);
});

// ---- the mapping is total ----------------------------------------------------------------

/** Every event type the Member stream's declarations name (src/members/*event*.ts). */
async function declaredMemberEventTypes(): Promise<string[]> {
  const dir = path.join(projectRoot, 'src', 'members');
  const files = (await readdir(dir)).filter((f) => /event/i.test(f) && f.endsWith('.ts'));
  const types = new Set<string>();
  for (const file of files) for (const m of (await readFile(path.join(dir, file), 'utf8')).matchAll(/type: '([A-Z][A-Za-z]+)'/g)) types.add(m[1]!);
  return [...types].sort();
}

/** The event types issue #14's parts append (the shared names), mapped before their code lands. */
const ISSUE_14_EVENTS = ['MemberSuspended', 'MemberSuspensionLifted', 'MemberExpulsionProposed', 'MemberExpelled', 'MemberResigned', 'MemberDied',
  'TermStarted', 'MemberTransferRequested', 'MemberTransferred', 'MemberTransferRefused', 'MemberReinstated', 'MemberLapsed'];

test('every declared Member event type, every #14 event type and every type in the store has a row in member_status_effects', async () => {
  const mapped = new Set((await as(party, (tx) => statusEffects(tx))).map((e) => e.eventType));
  const declared = await declaredMemberEventTypes();
  expect(declared).toEqual(expect.arrayContaining(['MemberRegistered', 'MemberActivated', 'MemberImported', 'MemberImportRolledBack']));
  const storedBy = (tenant: Tenant) => as(tenant, (tx) => tx.anyFirst(sql.type(z.object({ type: z.string() }))`
    SELECT DISTINCT event_type AS type FROM event_store WHERE aggregate_type = 'Member'`));
  const stored = [...(await storedBy(party)), ...(await storedBy(rival))];
  expect(stored).toEqual(expect.arrayContaining(['MemberImported', 'MemberImportRolledBack', 'MemberSuspended', 'MemberTransferred']));
  expect([...declared, ...ISSUE_14_EVENTS, ...stored].filter((type) => !mapped.has(type))).toEqual([]);
  expect(await as(party, (tx) => unmappedMemberEventTypes(tx))).toEqual([]);
});

test('the mapping agrees with the member aggregate on every admission event', async () => {
  const effects = await as(party, (tx) => statusEffects(tx));
  for (const effect of effects) {
    if (effect.eventType in LATER_STATUS || effect.eventType === 'MemberImportRolledBack') continue;
    const base: MemberState = { ...initialMemberState, status: 'awaiting_approval' };
    const after = evolve(base, { type: effect.eventType, payload: { memberNumber: 'X', invoiceId: 'i', amountMinor: 1, currency: 'NPR' } } as unknown as MemberEvent);
    expect({ type: effect.eventType, status: effect.status ?? 'awaiting_approval' }).toEqual({ type: effect.eventType, status: after.status });
  }
});

test('an event type nobody mapped is named by unmappedMemberEventTypes and changes no count', async () => {
  const id = randomUUID();
  await append(rival, id, '2026-05-01T06:00:00Z', [registered(east.wardIds[0]!), { type: 'MemberTeleported', payload: {} }]);
  expect(await as(rival, (tx) => unmappedMemberEventTypes(tx))).toEqual(['MemberTeleported']);
  expect(await as(rival, (tx) => countsAsOf(tx, east.wardIds[0]!, '2026-05-01'))).toMatchObject({ awaiting_approval: expect.any(Number) });
  const outcome = await as(rival, (tx) => rebuildStatusHistory(tx, rival.id));
  expect(outcome).toMatchObject({ differingRows: 0, unmappedEventTypes: ['MemberTeleported'] });
});
