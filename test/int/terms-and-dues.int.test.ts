import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { readDuesFigures } from '../../src/finance/dues-figures.ts';
import { splitDues } from '../../src/finance/dues-split.ts';
import { importMembers } from '../../src/imports/member-import.ts';
import { rollBackImport } from '../../src/imports/import-rollback.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { recountStatistics } from '../../src/statistics/member-statistics.ts';
import { addMonths } from '../../src/calendar/bikram-sambat.ts';
import { addDays, standingOn } from '../../src/terms/standing.ts';
import { appendTerm, dateIn, memberStanding, memberStandingInSql, planTerm, termsOf } from '../../src/terms/term-ledger.ts';
import { changeTenantSettings, TenantSettingsError } from '../../src/tenants/tenant-settings.ts';
import { findTenant, type Tenant } from '../../src/tenants/tenants.ts';
import { asTest, awaitInvoice, lifecycleHandle, memberEvents, paymentFor, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

/**
 * Terms and dues on real Postgres (as the application role) and a real Temporal lifecycle: the
 * admission payment buys the first term and is split over the ward chain in its transaction.
 */
let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let tenant: Tenant;

const today = () => dateIn(tenant.timeZone, new Date());
const Allocation = z.object({ level: z.string(), geographyId: z.string().nullable(), amountMinor: z.number(), sharePercent: z.number() });
const allocationsOf = (paymentId: string) => asTest(h, (tx) => tx.any(sql.type(Allocation)`
  SELECT level::text AS level, geography_id AS "geographyId", amount_minor::float8 AS "amountMinor", share_percent AS "sharePercent"
  FROM dues_allocations a WHERE payment_id = ${paymentId} ORDER BY a.level`));

/** A member through the real lifecycle: registered, approved, paid, activated, carded. */
async function admitted(email: string): Promise<{ memberId: string; paymentId: string; amountMinor: number }> {
  const registered = await registerMember(h, email);
  await sendLifecycleUpdate(h.client, registered.workflowId, approveUpdate, { by: `user:${h.headUserId}`, note: null });
  const handle = lifecycleHandle(h, registered.workflowId);
  const invoice = await awaitInvoice(handle);
  await sendLifecycleUpdate(h.client, registered.workflowId, paymentReceivedUpdate, paymentFor(invoice));
  expect((await handle.result()).stage).toBe('CardIssued');
  const paymentId = await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM payments WHERE member_id = ${registered.memberId}`));
  return { memberId: registered.memberId, paymentId, amountMinor: invoice.amountMinor };
}

beforeAll(async () => {
  h = await startLifecycleHarness({ paymentWindowMs: 60_000 });
  // An awkward fee: 10001 paisa does not divide by the shares.
  await changeTenantSettings(h.db.owner, h.tenant.slug, { admissionFeeMinor: 10_001 }, 'test');
  tenant = (await findTenant(h.db.owner, h.tenant.id))!;
  ({ worker, running } = await h.startWorker());
}, 120_000);
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
});

test('the party starts with the default term settings', () => {
  expect(tenant).toMatchObject({
    termLengthMonths: 12, renewalFeeMinor: 10_001, renewalNoticeDays: 30, gracePeriodDays: 60, reinstatementWindowDays: 365,
    calendar: 'BS', duesSplit: { national: 40, province: 20, district: 20, localLevel: 20 },
  });
});

test('an admission lifecycle: the payment buys the first term (TermStarted, a ledger row) and is split exactly over the ward chain', async () => {
  const { memberId, paymentId, amountMinor } = await admitted('term-one@example.np');
  expect(amountMinor).toBe(10_001);
  expect((await memberEvents(h, memberId)).map((e) => e.type)).toEqual(
    ['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'TermStarted', 'IdCardIssued']);
  const terms = await asTest(h, (tx) => termsOf(tx, memberId));
  const startsOn = today();
  expect(terms).toEqual([expect.objectContaining({ termNumber: 1, startsOn, endsOn: addMonths(startsOn, 12, 'BS'), paymentId, waived: false, source: 'admission' })]);
  const started = (await memberEvents(h, memberId)).find((e) => e.type === 'TermStarted');
  expect(started?.payload).toEqual({ termId: terms[0]!.id, termNumber: 1, from: startsOn, to: terms[0]!.endsOn, paymentId, waived: false });

  // 40/20/20/20 of 10001: the paisa left over goes to the national level.
  expect(await allocationsOf(paymentId)).toEqual([
    { level: 'national', geographyId: null, amountMinor: 4001, sharePercent: 40 },
    { level: 'province', geographyId: h.geo.provinceId, amountMinor: 2000, sharePercent: 20 },
    { level: 'district', geographyId: h.geo.districtId, amountMinor: 2000, sharePercent: 20 },
    { level: 'local_level', geographyId: h.geo.localLevelId, amountMinor: 2000, sharePercent: 20 },
  ]);
  const figures = await asTest(h, (tx) => readDuesFigures(tx, { geographyId: h.geo.districtId, from: startsOn, to: startsOn }));
  expect(figures.map((f) => [f.level, f.geographyId, f.amountMinor])).toEqual([['district', h.geo.districtId, 2000], ['local_level', h.geo.localLevelId, 2000]]);
  expect(await asTest(h, (tx) => recountStatistics(tx, h.tenant.id))).toEqual({ correctedRows: 0 });
}, 60_000);

test('the activation step run twice records one term and one TermStarted', async () => {
  const { memberId } = await admitted('term-twice@example.np');
  const workflowId = (await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ w: z.string() }))`SELECT workflow_id AS w FROM members WHERE id = ${memberId}`)));
  const { createMemberActivities } = await import('../../activities/members/index.ts');
  await createMemberActivities(h.deps).activateMember({ tenantId: h.tenant.id, memberId, workflowId });
  expect((await asTest(h, (tx) => termsOf(tx, memberId))).length).toBe(1);
  expect((await memberEvents(h, memberId)).filter((e) => e.type === 'TermStarted').length).toBe(1);
}, 60_000);

test('the ledger is append-only: the application role may not change or delete a term, nor the owner', async () => {
  const { memberId } = await admitted('term-ledger@example.np');
  await expect(asTest(h, (tx) => tx.query(sql.unsafe`UPDATE member_terms SET ends_on = ends_on + 365 WHERE member_id = ${memberId}`))).rejects.toThrow(/permission denied/);
  await expect(asTest(h, (tx) => tx.query(sql.unsafe`DELETE FROM member_terms WHERE member_id = ${memberId}`))).rejects.toThrow(/permission denied/);
  await expect(asTest(h, (tx) => tx.query(sql.unsafe`DELETE FROM dues_allocations WHERE member_id = ${memberId}`))).rejects.toThrow(/permission denied/);
  const asOwner = (statement: ReturnType<typeof sql.unsafe>) => h.db.owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${h.tenant.id}, true)`);
    return tx.query(statement);
  });
  await expect(asOwner(sql.unsafe`UPDATE member_terms SET ends_on = ends_on + 365 WHERE member_id = ${memberId}`)).rejects.toThrow(/append-only/);
  await expect(asOwner(sql.unsafe`DELETE FROM member_terms WHERE member_id = ${memberId}`)).rejects.toThrow(/append-only/);
  await expect(asOwner(sql.unsafe`UPDATE dues_allocations SET amount_minor = 0 WHERE member_id = ${memberId}`)).rejects.toThrow(/append-only/);
  // A term overlapping another of the same member is refused by the database itself.
  const [term] = await asTest(h, (tx) => termsOf(tx, memberId));
  await expect(asTest(h, (tx) => tx.query(sql.unsafe`
    INSERT INTO member_terms (tenant_id, member_id, term_number, starts_on, ends_on, waived, source, idempotency_key)
    VALUES (${h.tenant.id}, ${memberId}, 2, ${term!.startsOn}::date + 10, ${term!.endsOn}::date + 10, true, 'waiver', 'overlap')`))).rejects.toThrow(/exclusion constraint|conflicting key/);
}, 60_000);

test('standing is derived at read time, the same in SQL and TypeScript; an early renewal extends from paid-until', async () => {
  const { memberId } = await admitted('term-renewal@example.np');
  const [first] = await asTest(h, (tx) => termsOf(tx, memberId));
  // Renewed 20 days before the term ends: the second term starts where the first ends.
  const purchase = { tenantId: h.tenant.id, memberId, idempotencyKey: `test:${memberId}:renewal`, paidOn: addDays(first!.endsOn, -20), paymentId: null, waived: true, source: 'waiver' as const, recordedBy: 'test' };
  const second = await asTest(h, async (tx) => appendTerm(tx, purchase, await planTerm(tx, tenant, purchase)));
  expect(second).toMatchObject({ termNumber: 2, startsOn: first!.endsOn, endsOn: addMonths(first!.endsOn, 12, 'BS') });
  // The same key again finds the same term.
  expect(await asTest(h, async (tx) => appendTerm(tx, purchase, await planTerm(tx, tenant, purchase)))).toEqual(second);
  const days = [addDays(first!.startsOn, -1), first!.startsOn, addDays(first!.endsOn, -1), first!.endsOn, addDays(second.endsOn, -1), second.endsOn,
    addDays(second.endsOn, 59), addDays(second.endsOn, 60), addDays(second.endsOn, 60 + 365)];
  const rules = { gracePeriodDays: tenant.gracePeriodDays, reinstatementWindowDays: tenant.reinstatementWindowDays };
  const both = await asTest(h, async (tx) => Promise.all(days.map(async (day) => {
    const { inGoodStanding: _ignored, ...ts } = await memberStanding(tx, memberId, rules, day);
    return [day, ts, await memberStandingInSql(tx, memberId, day)] as const;
  })));
  for (const [, ts, inSql] of both) expect(inSql).toEqual(ts);
  expect(both.map(([, ts]) => ts.standing)).toEqual(['none', 'current', 'current', 'current', 'current', 'grace', 'grace', 'lapsed', 'lapsed']);
  expect(standingOn(await asTest(h, (tx) => termsOf(tx, memberId)), rules, second.endsOn).paidUntil).toBe(second.endsOn);
}, 60_000);

test('the database splits every amount as splitDues does, to the paisa', async () => {
  const splits = [[40, 20, 20, 20], [33, 33, 17, 17], [1, 1, 1, 97], [100, 0, 0, 0], [0, 0, 0, 100]];
  const amounts = [1, 2, 3, 7, 99, 101, 9_999, 10_001, 33_333, 1_000_000_007];
  const Part = z.object({ part: z.number(), amountMinor: z.number() });
  for (const shares of splits) {
    for (const amount of amounts) {
      const parts = await asTest(h, (tx) => tx.any(sql.type(Part)`SELECT part, amount_minor::float8 AS "amountMinor" FROM split_dues(${amount}, ${sql.array(shares, 'int4')})`));
      const [national, province, district, localLevel] = shares as [number, number, number, number];
      expect(parts.map((p) => p.amountMinor)).toEqual(Object.values(splitDues(amount, { national, province, district, localLevel })));
    }
  }
});

test('settings: a dues split not summing to 100 is refused naming the field and changes nothing; a good change is audited', async () => {
  await expect(changeTenantSettings(h.db.owner, h.tenant.slug, { duesSplit: { national: 50, province: 20, district: 20, localLevel: 20 } }, 'test'))
    .rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['duesSplit'], message: expect.stringMatching(/sum to 100, not 110/) })] });
  await expect(changeTenantSettings(h.db.owner, h.tenant.slug, { renewalNoticeDays: 30, termLengthMonths: 1 }, 'test'))
    .rejects.toEqual(expect.objectContaining({ field: 'renewalNoticeDays' }));
  await expect(changeTenantSettings(h.db.owner, h.tenant.slug, { renewalNoticeDays: 30, termLengthMonths: 1 }, 'test')).rejects.toBeInstanceOf(TenantSettingsError);
  expect(await findTenant(h.db.owner, h.tenant.id)).toEqual(tenant);
  const changed = await changeTenantSettings(h.db.owner, h.tenant.slug, { gracePeriodDays: 45, calendar: 'AD', duesSplit: { national: 25, province: 25, district: 25, localLevel: 25 } }, 'operator:test');
  expect(changed?.after).toMatchObject({ gracePeriodDays: 45, calendar: 'AD', duesSplit: { national: 25, province: 25, district: 25, localLevel: 25 } });
  const audit = await asTest(h, (tx) => tx.one(sql.type(z.object({ actor: z.string(), old: z.unknown(), new: z.unknown() }))`
    SELECT actor, old_row -> 'grace_period_days' AS old, new_row -> 'grace_period_days' AS new FROM audit_log
    WHERE table_name = 'tenants' AND record_id = ${h.tenant.id} ORDER BY id DESC LIMIT 1`));
  expect(audit).toEqual({ actor: 'operator:test', old: 60, new: 45 });
  await changeTenantSettings(h.db.owner, h.tenant.slug, { gracePeriodDays: 60, calendar: 'BS', duesSplit: { national: 40, province: 20, district: 20, localLevel: 20 } }, 'operator:test');
});

test('imported members get a first term from the day of the import to their next registration anniversary (a full term without one); rolling the import back removes it', async () => {
  const ward = await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ code: z.string() }))`SELECT code FROM geography_nodes WHERE id = ${h.geo.wardIds[0]!}`));
  const dir = await mkdtemp(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'terms-import-'));
  const file = path.join(dir, 'members.csv');
  await writeFile(file, `full_name_en,gender,phone,ward_code,registered_at\nHari Bhandari,M,9851111001,${ward},2015-03-01\nGita Karki,F,9851111002,${ward},\n`);
  const quiet = { validated: () => undefined, loading: () => undefined, batchCommitted: () => undefined };
  const outcome = await importMembers(h.db.app, h.keyring, { file, tenant, actor: 'cli:test', batchSize: 100, skipInvalid: false, now: new Date() }, quiet);
  if (outcome.kind !== 'imported') throw new Error('import refused');
  const Term = z.object({ startsOn: z.string(), endsOn: z.string(), source: z.string(), paymentId: z.string().nullable() });
  const terms = await asTest(h, (tx) => tx.any(sql.type(Term)`
    SELECT to_char(t.starts_on, 'YYYY-MM-DD') AS "startsOn", to_char(t.ends_on, 'YYYY-MM-DD') AS "endsOn", t.source, t.payment_id AS "paymentId"
    FROM member_terms t JOIN members m ON m.id = t.member_id WHERE m.import_id = ${outcome.importId}`));
  // Registered 2015-03-01: the party renews on that day of the BS year, so the term ends on the first such day after today.
  let anniversary = '2015-03-01';
  for (let years = 1; anniversary <= today(); years++) anniversary = addMonths('2015-03-01', 12 * years, 'BS');
  expect([...terms].sort((x, y) => x.endsOn.localeCompare(y.endsOn))).toEqual([
    { startsOn: today(), endsOn: anniversary, source: 'import', paymentId: null },
    { startsOn: today(), endsOn: addMonths(today(), 12, 'BS'), source: 'import', paymentId: null },
  ].sort((x, y) => x.endsOn.localeCompare(y.endsOn)));
  expect(await asTest(h, (tx) => recountStatistics(tx, h.tenant.id))).toEqual({ correctedRows: 0 });
  expect(await rollBackImport(h.db.app, { tenantId: h.tenant.id, actor: 'cli:test' }, outcome.importId, 100, () => undefined)).toBe(2);
  expect(await asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM member_terms WHERE source = 'import'`))).toBe(0);
}, 60_000);
