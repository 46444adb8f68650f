import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { appointCommitteeRole, endCommitteeRole } from '../../src/committees/committee-roles.ts';
import { createCommittee, parentCommittee } from '../../src/committees/committees.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

let db: TestDatabase;
let geo: MiniGeography;
let party: Tenant;
let rival: Tenant;
let users = 0;

const Term = z.object({ userId: z.string(), validFrom: z.number(), validTo: z.number().nullable() });
const inParty = <T>(work: (tx: TenantTransaction) => Promise<T>, tenant = party) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);
const newUser = (tenant = party) => inParty(async (tx) => (await createUser(tx, tenant.id, { email: `u${++users}@party.test`, displayName: `User ${users}`, password: 'a long enough password' })).id, tenant);
const newCommittee = (geographyId: string, tenant = party) => inParty((tx) => createCommittee(tx, tenant.id, { geographyId, name: `Committee ${geographyId.slice(0, 4)}` }), tenant);
const appoint = (committeeId: string, userId: string, role: 'head' | 'secretary' | 'member' = 'head', validFrom?: Date) =>
  inParty((tx) => appointCommitteeRole(tx, party.id, { committeeId, userId, role, validFrom }));
const terms = (committeeId: string, role = 'head') =>
  inParty((tx) => tx.any(sql.type(Term)`
    SELECT user_id AS "userId", valid_from AS "validFrom", valid_to AS "validTo" FROM committee_roles
    WHERE committee_id = ${committeeId} AND role = ${role} ORDER BY valid_from, created_at`));
const rejection = (code: string, field: string): unknown => expect.objectContaining({ name: 'CommitteeError', code, field });

beforeAll(async () => {
  db = await createTestDatabase();
  geo = await seedMiniGeography(db.owner);
  const keyring = new Keyring(testMasterKey());
  party = await makeTenant(db.app, keyring, 'committee-party', 'CP');
  rival = await makeTenant(db.app, keyring, 'rival-party', 'RP');
});
afterAll(() => db.close());

describe('createCommittee', () => {
  test('finds the node by code or id, and refuses a second committee on the same node', async () => {
    const byCode = await inParty((tx) => createCommittee(tx, party.id, { geographyCode: 'LT1_W3', name: ' Ward 3 ' }));
    expect(byCode).toMatchObject({ name: 'Ward 3', geographyId: geo.wardIds[2], geographyCode: 'LT1_W3' });
    const again = inParty((tx) => createCommittee(tx, party.id, { geographyId: geo.wardIds[2]!, name: 'Again' }));
    await expect(again).rejects.toEqual(rejection('COMMITTEE_EXISTS', 'geographyId'));
    const otherParty = await newCommittee(geo.wardIds[2]!, rival);
    expect(otherParty.id).not.toBe(byCode.id);
  });

  test('an unknown node or bad input is refused, naming the field', async () => {
    await expect(inParty((tx) => createCommittee(tx, party.id, { geographyCode: 'NOPE', name: 'X' }))).rejects.toEqual(rejection('GEOGRAPHY_NOT_FOUND', 'geographyCode'));
    await expect(inParty((tx) => createCommittee(tx, party.id, { geographyCode: 'LT1', name: '  ' }))).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['name'] })] });
    await expect(inParty((tx) => createCommittee(tx, party.id, { geographyCode: 'LT1', geographyId: geo.localLevelId, name: 'X' }))).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['geographyCode'] })] });
  });
});

describe('appointCommitteeRole', () => {
  test('a second head ends the first head term: history kept, exactly one open', async () => {
    const { id: committeeId } = await newCommittee(geo.wardIds[0]!);
    const [first, second] = [await newUser(), await newUser()];
    await appoint(committeeId, first);
    const secretary = await newUser();
    await appoint(committeeId, secretary, 'secretary');
    const appointment = await appoint(committeeId, second);
    expect(appointment.ended).toEqual([expect.objectContaining({ userId: first })]);
    const history = await terms(committeeId);
    expect(history.map((t) => t.userId)).toEqual([first, second]);
    expect(history[0]!.validTo).toBe(history[1]!.validFrom);
    expect(history[1]!.validFrom).toBe(appointment.validFrom.getTime());
    expect(history.filter((t) => t.validTo === null)).toEqual([expect.objectContaining({ userId: second })]);
    expect(await terms(committeeId, 'secretary')).toEqual([expect.objectContaining({ userId: secretary, validTo: null })]);
  });

  test('concurrent new heads queue on the committee: both succeed, one stays open', async () => {
    const { id: committeeId } = await newCommittee(geo.wardIds[1]!);
    const candidates = [await newUser(), await newUser(), await newUser()];
    await Promise.all(candidates.map((userId) => appoint(committeeId, userId)));
    const history = await terms(committeeId);
    expect(history).toHaveLength(3);
    expect(history.filter((t) => t.validTo === null)).toHaveLength(1);
  });

  test('refuses a held role, an overlapping term, a foreign user or a missing committee, changing nothing', async () => {
    const { id: committeeId } = await newCommittee(geo.districtId);
    const head = await newUser();
    const { validFrom } = await appoint(committeeId, head);
    await expect(appoint(committeeId, head)).rejects.toEqual(rejection('ROLE_ALREADY_HELD', 'userId'));
    await expect(appoint(committeeId, await newUser(), 'head', new Date(validFrom.getTime() - 60_000))).rejects.toEqual(rejection('TERM_OVERLAP', 'validFrom'));
    await expect(appoint(committeeId, await newUser(rival))).rejects.toEqual(rejection('USER_NOT_FOUND', 'userId'));
    await expect(appoint(randomUUID(), head)).rejects.toEqual(rejection('COMMITTEE_NOT_FOUND', 'committeeId'));
    await expect(appoint(committeeId, head, 'chair' as 'head')).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['role'] })] });
    expect(await terms(committeeId)).toEqual([{ userId: head, validFrom: validFrom.getTime(), validTo: null }]);
  });
});

test('endCommitteeRole closes an open role once and keeps the row', async () => {
  const { id: committeeId } = await newCommittee(geo.provinceId, rival);
  const member = await newUser(rival);
  const role = await inParty((tx) => appointCommitteeRole(tx, rival.id, { committeeId, userId: member, role: 'member' }), rival);
  const ended = await inParty((tx) => endCommitteeRole(tx, rival.id, { committeeRoleId: role.id }), rival);
  expect(ended.validTo.getTime()).toBeGreaterThan(role.validFrom.getTime());
  await expect(inParty((tx) => endCommitteeRole(tx, rival.id, { committeeRoleId: role.id }), rival)).rejects.toEqual(rejection('ROLE_NOT_OPEN', 'committeeRoleId'));
  await expect(inParty((tx) => endCommitteeRole(tx, party.id, { committeeRoleId: role.id }))).rejects.toEqual(rejection('ROLE_NOT_FOUND', 'committeeRoleId'));
  const rows = await inParty((tx) => tx.anyFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int4 AS n FROM committee_roles WHERE id = ${role.id}`), rival);
  expect(rows).toEqual([1]);
});

test('parentCommittee is the nearest undissolved committee above, of the same party only', async () => {
  const tree = await seedMiniGeography(db.owner, 'T2');
  const province = await newCommittee(tree.provinceId);
  const local = await newCommittee(tree.localLevelId);
  const ward = await newCommittee(tree.wardIds[0]!);
  await newCommittee(tree.districtId, rival);
  const parentOf = (id: string) => inParty((tx) => parentCommittee(tx, id));
  expect(await parentOf(ward.id)).toMatchObject({ id: local.id, geographyCode: 'LT2' });
  expect(await parentOf(local.id)).toMatchObject({ id: province.id, geographyCode: 'PT2' });
  expect(await parentOf(province.id)).toBeNull();
  await inParty((tx) => tx.query(sql.unsafe`UPDATE committees SET dissolved_at = now() WHERE id = ${local.id}`));
  expect(await parentOf(ward.id)).toMatchObject({ id: province.id, name: province.name });
  await expect(parentOf(randomUUID())).rejects.toEqual(rejection('COMMITTEE_NOT_FOUND', 'committeeId'));
});
