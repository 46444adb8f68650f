import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { memberSearchQuery, searchMembers, type MemberSearch } from '../../src/members/member-queries.ts';
import { MEMBER_STATUSES } from '../../src/members/member-status.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeCommittee, makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

/**
 * Search must return exactly what a plain reading of its filters says, page after page, and
 * every filter must reach an index under row-level security (migrations/0015).
 */
interface Seeded {
  id: string;
  status: string;
  name: string;
  wardId: string;
  path: string;
  committeeId: string | null;
  registeredAt: string;
}

const NAMES = ['Sita Sharma', 'Ram Bahadur Thapa', 'Gita Sharma Poudel', 'Hari Oli', 'Maya Gurung', 'सीता शर्मा'];
const INSTANTS = ['2019-03-01T00:00:00.000Z', '2020-06-15T10:00:00.000Z', '2020-06-15T10:00:00.000Z', '2021-12-31T23:59:59.000Z', '2023-01-01T00:00:00.000Z'];

let db: TestDatabase;
let party: Tenant;
let rival: Tenant;
let east: MiniGeography;
let west: MiniGeography;
let committee: string;
const wardPaths = new Map<string, string>();
const seeded: Seeded[] = [];

const as = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);

async function seed(tenant: Tenant, count: number, record: boolean): Promise<void> {
  const wards = [...east.wardIds, ...west.wardIds];
  await as(tenant, async (tx) => {
    for (let i = 0; i < count; i++) {
      const member: Seeded = {
        id: randomUUID(),
        status: MEMBER_STATUSES[(i * 3) % MEMBER_STATUSES.length]!,
        name: NAMES[i % NAMES.length]!,
        wardId: wards[(i * 5) % wards.length]!,
        path: '',
        committeeId: tenant === party && i % 4 === 0 ? committee : null,
        registeredAt: INSTANTS[i % INSTANTS.length]!,
      };
      member.path = wardPaths.get(member.wardId)!;
      const devanagari = /[^\x20-\x7e]/.test(member.name);
      await tx.query(sql.unsafe`
        INSERT INTO members (id, tenant_id, status, ward_id, geography_path, committee_id, full_name_en, full_name_ne, gender,
                             phone_enc, phone_bidx, registered_at)
        VALUES (${member.id}, ${tenant.id}, ${member.status}::member_status, ${member.wardId}, ${member.path}::ltree, ${member.committeeId},
                ${devanagari ? 'Sita Sharma' : member.name}, ${devanagari ? member.name : null}, 'F',
                ${sql.binary(randomBytes(32))}, ${sql.binary(randomBytes(32))}, ${member.registeredAt}::timestamptz)`);
      if (record) seeded.push(member);
    }
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const keyring = new Keyring(testMasterKey());
  east = await seedMiniGeography(db.owner, 'SE');
  west = await seedMiniGeography(db.owner, 'SW');
  const paths = await db.app.any(sql.type(z.object({ id: z.string(), path: z.string() }))`SELECT id, path::text AS path FROM geography_nodes`);
  for (const { id, path } of paths) wardPaths.set(id, path);
  party = await makeTenant(db.app, keyring, 'search-party', 'SRP');
  rival = await makeTenant(db.app, keyring, 'search-rival', 'SRR');
  committee = await makeCommittee(db.app, party.id, east.localLevelId);
  await seed(party, 240, true);
  await seed(rival, 60, false);
});
afterAll(() => db.close());

const newestFirst = (a: Seeded, b: Seeded) => (a.registeredAt === b.registeredAt ? (a.id < b.id ? 1 : -1) : a.registeredAt < b.registeredAt ? 1 : -1);

/** Every page of a search, following the cursor as the API does. */
async function allPages(search: Omit<MemberSearch, 'limit' | 'after'>, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let after: MemberSearch['after'];
  for (;;) {
    const page = await as(party, (tx) => searchMembers(tx, { ...search, after, limit: pageSize }));
    ids.push(...page.map((m) => m.id));
    if (page.length < pageSize) return ids;
    const last = page[page.length - 1]!;
    after = { registeredAt: new Date(last.registeredAt).toISOString(), id: last.id };
  }
}

const within = (path: string, area: string) => path === area || path.startsWith(`${area}.`);

test.each([
  ['no filter', {}, () => true],
  ['status', { status: 'active' }, (m: Seeded) => m.status === 'active'],
  ['name, any case, either script', { name: 'sharma' }, (m: Seeded) => /sharma|शर्मा/i.test(m.name) || m.name === 'सीता शर्मा'],
  ['Devanagari name', { name: 'शर्मा' }, (m: Seeded) => m.name === 'सीता शर्मा'],
  ['province subtree', { geographyPath: 'pse' }, (m: Seeded) => within(m.path, 'pse')],
  ['district subtree', { geographyPath: 'psw.dsw' }, (m: Seeded) => within(m.path, 'psw.dsw')],
  ['local level subtree', { geographyPath: 'pse.dse.lse' }, (m: Seeded) => within(m.path, 'pse.dse.lse')],
  ['ward', { geographyPath: 'psw.dsw.lsw.w2' }, (m: Seeded) => m.path === 'psw.dsw.lsw.w2'],
  ['committee', { committeeId: 'committee' }, (m: Seeded) => m.committeeId !== null],
  ['registration dates', { registeredFrom: '2020-06-15T10:00:00Z', registeredTo: '2023-01-01' }, (m: Seeded) => m.registeredAt >= '2020-06-15T10:00:00.000Z' && m.registeredAt < '2023-01-01T00:00:00.000Z'],
  ['status in a ward of a head\'s areas', { status: 'awaiting_approval', withinPaths: ['psw.dsw.lsw.w1', 'pse'] }, (m: Seeded) => m.status === 'awaiting_approval' && (m.path === 'psw.dsw.lsw.w1' || within(m.path, 'pse'))],
  ['no areas at all', { withinPaths: [] }, () => false],
  ['name, district and dates', { name: 'Sharma', geographyPath: 'pse.dse', registeredFrom: '2020-01-01' }, (m: Seeded) => /Sharma|शर्मा/.test(m.name) && within(m.path, 'pse.dse') && m.registeredAt >= '2020-01-01'],
] as const)('%s: every page together is exactly the matching members, newest first', async (name, filters, matches) => {
  const search = { ...filters, committeeId: 'committeeId' in filters ? committee : undefined } as Omit<MemberSearch, 'limit'>;
  const expected = seeded.filter((m) => matches(m)).sort(newestFirst).map((m) => m.id);
  expect(await allPages(search, 7)).toEqual(expected);
  // Only the head without areas may see nobody; every other case must have something to find.
  expect(expected.length === 0).toBe(name === 'no areas at all');
});

test.each([
  ['everyone', {}],
  ['awaiting approval in a head\'s areas', { status: 'awaiting_approval', withinPaths: ['psw.dsw.lsw.w1', 'pse'] }],
  ['a district', { geographyPath: 'psw.dsw' }],
] as const)('oldest first, %s: every page together is the newest-first result reversed', async (_name, filters) => {
  const search = filters as Omit<MemberSearch, 'limit'>;
  const newest = await allPages(search, 9);
  expect(newest.length).toBeGreaterThan(1);
  expect(await allPages({ ...search, oldestFirst: true }, 9)).toEqual([...newest].reverse());
});

/** Every Index Cond in a plan, as Postgres prints them. */
function indexConditions(plan: unknown): string[] {
  if (!plan || typeof plan !== 'object') return [];
  const node = plan as Record<string, unknown>;
  const own = typeof node['Index Cond'] === 'string' ? [node['Index Cond']] : [];
  return [...own, ...Object.values(node).flatMap((value) => (Array.isArray(value) ? value.flatMap(indexConditions) : indexConditions(value)))];
}

async function conditionsOf(search: Omit<MemberSearch, 'limit'>, avoid: 'seqscan' | 'indexscan'): Promise<string> {
  return as(planParty, async (tx) => {
    await tx.query(sql.unsafe`SET LOCAL enable_seqscan = off`);
    if (avoid === 'indexscan') await tx.query(sql.unsafe`SET LOCAL enable_indexscan = off`);
    const plan = await tx.oneFirst(sql.type(z.object({ 'QUERY PLAN': z.unknown() }))`EXPLAIN (FORMAT JSON) ${memberSearchQuery({ ...search, limit: 26 })}`);
    return indexConditions(plan).join(' | ');
  });
}

let planParty: Tenant;

describe('plans', () => {
  // A party big enough, and skewed enough, that the planner picks the narrowest usable index:
  // 90% of members in the east, 1% awaiting approval, 0.5% named Gurung.
  beforeAll(async () => {
    planParty = await makeTenant(db.app, new Keyring(testMasterKey()), 'search-plans', 'SRX');
    const wards = [...east.wardIds, ...west.wardIds];
    await as(planParty, (tx) => tx.query(sql.unsafe`
      INSERT INTO members (id, tenant_id, status, ward_id, geography_path, full_name_en, gender, phone_enc, phone_bidx, registered_at)
      SELECT gen_random_uuid(), ${planParty.id}, CASE WHEN g % 100 = 0 THEN 'awaiting_approval' ELSE 'active' END::member_status,
             w.id, w.path, CASE WHEN g % 200 = 0 THEN 'Maya Gurung' ELSE 'Ram Thapa ' || g END, 'M',
             decode(md5(g::text), 'hex'), decode(md5('bidx' || g), 'hex'), timestamptz '2000-01-01' + g * interval '1 hour'
      FROM generate_series(1, 20000) g
      JOIN LATERAL (SELECT id, path FROM geography_nodes
                    WHERE id = (${sql.array(wards, 'uuid')})[CASE WHEN g % 10 = 0 THEN 4 + (g / 10) % 3 ELSE 1 + g % 3 END]) w ON true`));
    // As autovacuum would: statistics, and the trigram indexes' pending entries merged.
    await db.owner.query(sql.unsafe`VACUUM ANALYZE members`);
  });

  test.each([
    ['status', { status: 'awaiting_approval' }, 'seqscan', /status = /],
    ['province subtree', { geographyPath: 'psw' }, 'seqscan', /province_key = /],
    ['district subtree', { geographyPath: 'psw.dsw' }, 'seqscan', /district_key = /],
    ['local level subtree', { geographyPath: 'psw.dsw.lsw' }, 'seqscan', /local_level_key = /],
    ['ward', { geographyPath: 'psw.dsw.lsw.w3' }, 'seqscan', /ward_id = /],
    ['cursor', { after: { registeredAt: '2000-01-10T00:00:00.000Z', id: '00000000-0000-0000-0000-000000000000' } }, 'seqscan', /registered_at <= /],
    ['name (trigram index, as a bitmap)', { name: 'Gurung' }, 'indexscan', /~~\*/],
  ] as const)('under row-level security the %s filter is an index condition', async (_name, search, avoid, condition) => {
    expect(await conditionsOf(search as Omit<MemberSearch, 'limit'>, avoid)).toMatch(condition);
  });
});
