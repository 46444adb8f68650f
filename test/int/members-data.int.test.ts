import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { assignMemberNumber } from '../../src/members/member-number.ts';
import { insertApplicant, readContact } from '../../src/members/member-repository.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, testMasterKey, type MiniGeography } from '../support/fixtures.ts';

let db: TestDatabase;
let keyring: Keyring;
let geo: MiniGeography;
let tenant: Tenant;
const as = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);

const memberCount = () => as((tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`));
const phoneOf = (i: number) => `98${String(51_000_000 + i).padStart(8, '0')}`;

async function register(i: number, gender: 'M' | 'F' = 'M'): Promise<string> {
  const id = randomUUID();
  const application = ApplicationSchema.parse({
    fullNameEn: `Member ${i}`, fullNameNe: 'सदस्य', gender, phone: phoneOf(i), email: `member${i}@example.np`,
    dateOfBirth: '1990-04-13', address: 'Ward 3, Bhojpur', citizenshipNo: `12-01-75-${i}`, wardId: geo.wardIds[i % 3],
  });
  await as(async (tx) => insertApplicant(tx, sealApplication(await keyring.forTenant(tx, tenant.id), id, application, 'token'), `wf-${id}`));
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  keyring = new Keyring(testMasterKey());
  geo = await seedMiniGeography(db.owner);
  tenant = await makeTenant(db.app, keyring, 'uml', 'UML');
});
afterAll(() => db.close());

test('200 concurrent number assignments give 200 unique, well-formed numbers', async () => {
  const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => register(1000 + i, i % 2 ? 'F' : 'M')));
  const at = new Date('2026-11-24T10:00:00Z');
  const numbers = await Promise.all(ids.map((id) => as((tx) => assignMemberNumber(tx, id, tenant, at))));
  expect(new Set(numbers).size).toBe(200);
  // The party counts years in Bikram Sambat (the default): 24 November 2026 is in 2083 BS.
  for (const n of numbers) expect(n).toMatch(/^UML-2083-[MF]-\d{6}$/);
  const digits = numbers.map((n) => Number(n.slice(-6))).sort((a, b) => a - b);
  expect(digits[0]).toBe(1);
  expect(digits[199]).toBe(200);
});

test('a number is assigned once: a retried assignment returns the same number', async () => {
  const id = await register(1);
  const first = await as((tx) => assignMemberNumber(tx, id, tenant, new Date()));
  const again = await as((tx) => assignMemberNumber(tx, id, tenant, new Date()));
  expect(again).toBe(first);
  await expect(as((tx) => tx.query(sql.unsafe`UPDATE members SET member_number = 'UML-2026-M-999999' WHERE id = ${id}`))).rejects.toThrow(/already holds number/);
});

test('a rolled-back assignment leaves a gap, never a duplicate', async () => {
  const [a, b] = [await register(2), await register(3)];
  await expect(as(async (tx) => {
    await assignMemberNumber(tx, a, tenant, new Date());
    throw new Error('activation failed after numbering');
  })).rejects.toThrow('activation failed');
  const next = await as((tx) => assignMemberNumber(tx, b, tenant, new Date()));
  const prior = await as((tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT max(right(member_number, 6)::int) AS n FROM members WHERE id <> ${b}`));
  expect(Number(next.slice(-6))).toBe(prior + 2);
});

const seal = async (tx: TenantTransaction, id: string, fields: { phone: string; email?: string }) => sealApplication(
  await keyring.forTenant(tx, tenant.id), id, ApplicationSchema.parse({ fullNameEn: `Applicant ${id.slice(0, 4)}`, gender: 'F', wardId: geo.wardIds[0], ...fields }), 'token');
const apply = (id: string, fields: { phone: string; email?: string }) => as(async (tx) => insertApplicant(tx, await seal(tx, id, fields), `wf-${id}`));

test('a phone or email the party already holds comes back taken, naming its holder, and nothing is written', async () => {
  const holder = await register(4);
  const before = await memberCount();
  expect(await apply(randomUUID(), { phone: phoneOf(4), email: 'fresh-4@example.np' })).toMatchObject({ outcome: 'taken', contact: 'phone', holderId: holder });
  expect(await apply(randomUUID(), { phone: phoneOf(40), email: 'member4@example.np' })).toMatchObject({ outcome: 'taken', contact: 'email', holderId: holder });
  expect(await memberCount()).toBe(before);
  const other = await makeTenant(db.app, keyring, 'other-party', 'OP');
  const application = ApplicationSchema.parse({ fullNameEn: 'Other', gender: 'F', phone: phoneOf(4), wardId: geo.wardIds[0] });
  await withTenant(db.app, { tenantId: other.id, actor: 'test' }, async (tx) => {
    const result = await insertApplicant(tx, sealApplication(await keyring.forTenant(tx, other.id), randomUUID(), application, 'token'), 'wf-other');
    expect(result).toMatchObject({ outcome: 'recorded', inserted: true });
  });
});

test.each(['phone', 'email'] as const)('two applications racing for one %s: the one that loses the unique index comes back taken, not as an error to retry', async (contact) => {
  const [first, second] = [randomUUID(), randomUUID()];
  const fields = (i: number) => (contact === 'phone' ? { phone: phoneOf(60), email: `race-${i}@example.np` } : { phone: phoneOf(61 + i), email: 'race@example.np' });
  let inserted!: () => void;
  let release!: () => void;
  const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
  const held = new Promise<void>((resolve) => (release = resolve));
  // The first holds its insert uncommitted while the second checks (and finds nothing) and then inserts.
  const winning = as(async (tx) => {
    const result = await insertApplicant(tx, await seal(tx, first, fields(1)), `wf-${first}`);
    inserted();
    await held;
    return result;
  });
  await firstInserted;
  const losing = apply(second, fields(2));
  await new Promise((resolve) => setTimeout(resolve, 300));
  release();
  expect(await winning).toMatchObject({ outcome: 'recorded', inserted: true });
  expect(await losing).toMatchObject({ outcome: 'taken', contact, holderId: first });
});

test('personal data decrypts for its tenant and appears nowhere in plaintext', async () => {
  const id = await register(5);
  const contact = await as(async (tx) => readContact(tx, await keyring.forTenant(tx, tenant.id), id));
  expect(contact).toEqual({ phone: `+977${phoneOf(5)}`, email: 'member5@example.np' });
  const superuser = new pg.Client(process.env.TEST_PG_SUPERUSER_URL!.replace(/\/postgres$/, `/${db.name}`));
  await superuser.connect();
  try {
    const tables = await superuser.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`);
    const needles = [phoneOf(5), 'member5@example.np', '12-01-75-5', 'Bhojpur', '1990-04-13'];
    const members = await superuser.query<{ r: string }>(`SELECT string_agg(x::text, '\n') AS r FROM members x`);
    expect(members.rows[0]?.r).toContain('Member 5');
    for (const { t } of tables.rows) {
      const dump = await superuser.query<{ r: string }>(`SELECT string_agg(x::text, '\n') AS r FROM ${pg.escapeIdentifier(t)} x`);
      for (const needle of needles) expect({ table: t, found: (dump.rows[0]?.r ?? '').includes(needle) }).toEqual({ table: t, found: false });
    }
  } finally {
    await superuser.end();
  }
});
