import { sql } from 'slonik';
import { z } from 'zod';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { addCommitteeWithHead, asTest, awaitInvoice, lifecycleHandle, paymentFor, registerMember } from '../support/lifecycle-harness.ts';

/** GET /api/finance/dues over HTTP: figures from real admissions, who may ask for which area, bad parameters named. */
let api: ApiHarness & { stop(): Promise<void> };
let treasurer: string;
let headOfLocalLevel: string;
let headOfOtherDistrict: string;
let day: string;

interface Figure { id: string; attributes: { day: string; level: string; geographyId: string | null; currency: string; amountMinor: number; allocations: number } }

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 60_000 });
  treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  headOfLocalLevel = await api.tokenFor(api.headUserId);
  // A district committee elsewhere: a province of its own, no ward of the members.
  const other = await api.db.owner.oneFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO geography_nodes (code, type, path, name_en) VALUES ('PFIN', 'province', 'pfin'::ltree, 'Other Province') RETURNING id`);
  await api.db.owner.query(sql.unsafe`INSERT INTO geography_closure (ancestor_id, descendant_id, depth) VALUES (${other}, ${other}, 0)`);
  headOfOtherDistrict = await api.tokenFor((await addCommitteeWithHead(api, other, 'Other Committee', 'other-head@party.test')).headUserId);
  for (const email of ['dues-a@example.np', 'dues-b@example.np']) {
    const registered = await registerMember(api, email);
    await sendLifecycleUpdate(api.client, registered.workflowId, approveUpdate, { by: `user:${api.headUserId}`, note: null });
    const handle = lifecycleHandle(api, registered.workflowId);
    await sendLifecycleUpdate(api.client, registered.workflowId, paymentReceivedUpdate, paymentFor(await awaitInvoice(handle)));
    await handle.result();
  }
  day = dateIn(api.tenant.timeZone, new Date());
}, 180_000);
afterAll(() => api.stop());

const dues = (query: string, token: string) => api.request('GET', `/api/finance/dues?${query}`, { token });
const figures = (res: { body: unknown }) => (res.body as { data: Figure[] }).data.map((f) => [f.attributes.level, f.attributes.geographyId, f.attributes.amountMinor, f.attributes.allocations]);

test("a treasurer sees the whole party's day: national and every node, summing to the payments", async () => {
  const res = await dues(`from=${day}&to=${day}`, treasurer);
  expect(res.status).toBe(200);
  // Two admissions of 50000 paisa: 40% national, 20% to each of the ward's province, district and local level.
  expect(figures(res)).toEqual([
    ['national', null, 40_000, 2], ['province', api.geo.provinceId, 20_000, 2], ['district', api.geo.districtId, 20_000, 2], ['local_level', api.geo.localLevelId, 20_000, 2],
  ]);
  const paid = await asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT sum(amount_minor)::float8 AS n FROM payments`));
  expect((res.body as { meta: { totalMinor: Record<string, number> } }).meta.totalMinor).toEqual({ NPR: paid });
});

test('a head sees the nodes their committee covers, not the party as a whole nor another area', async () => {
  const own = await dues(`geography=${api.geo.localLevelId}&from=${day}&to=${day}`, headOfLocalLevel);
  expect([own.status, figures(own)]).toEqual([200, [['local_level', api.geo.localLevelId, 20_000, 2]]]);
  const above = await dues(`geography=${api.geo.districtId}&from=${day}&to=${day}`, headOfLocalLevel);
  const whole = await dues(`from=${day}&to=${day}`, headOfLocalLevel);
  const elsewhere = await dues(`geography=${api.geo.localLevelId}&from=${day}&to=${day}`, headOfOtherDistrict);
  expect([above.status, whole.status, elsewhere.status]).toEqual([403, 403, 403]);
  // A treasurer asking for a district gets the district and the nodes under it.
  expect(figures(await dues(`geography=${api.geo.districtId}&from=${day}&to=${day}`, treasurer)))
    .toEqual([['district', api.geo.districtId, 20_000, 2], ['local_level', api.geo.localLevelId, 20_000, 2]]);
});

test('bad parameters are refused naming the parameter', async () => {
  const cases: [string, string][] = [
    [`from=${day}&to=2020-01-01`, 'to'],
    ['from=2024-01-01&to=2025-12-31', 'to'],
    ['from=2024-02-30&to=2024-03-01', 'from'],
    [`from=${day}`, 'to'],
    ['from=0000-01-01&to=0000-01-02', 'from'],
    [`geography=nope&from=${day}&to=${day}`, 'geography'],
  ];
  for (const [query, parameter] of cases) {
    const res = await dues(query, treasurer);
    expect([query, res.status, (res.body as { errors: { source?: { parameter?: string } }[] }).errors[0]?.source?.parameter]).toEqual([query, 400, parameter]);
  }
  const unknown = await dues(`geography=00000000-0000-4000-8000-000000000000&from=${day}&to=${day}`, treasurer);
  expect(unknown.status).toBe(404);
});
