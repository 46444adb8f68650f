import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { memberWorkflowId } from '../../src/members/lifecycle-contract.ts';
import { openEventStream } from '../support/sse.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { startedLifecycle } from '../support/lifecycle-harness.ts';

/**
 * An anonymous caller tries to learn whether a phone number or email belongs to a member of
 * the party, by applying with it: the answer must be the same as for a number no one holds.
 */
let api: ApiHarness & { stop(): Promise<void> };
let seq = 0;
let member: { phone: string; email: string; id: string };

const applicant = (over: Record<string, unknown> = {}) => {
  seq += 1;
  return { ...ELIGIBLE, fullNameEn: `Probe ${seq}`, gender: 'O', phone: `98${String(41_000_000 + seq)}`, email: `probe${seq}@example.np`, wardId: api.geo.wardIds[2], ...over };
};
const apply = (attributes: Record<string, unknown>, idempotencyKey?: string) => api.request('POST', `/api/parties/${api.tenant.slug}/applications`,
  { body: { data: { type: 'applications', attributes } }, ...(idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : {}) });
const follow = (res: ApiResponse) => {
  const link = new URL(res.body.data.links.status as string);
  return api.request('GET', `${link.pathname}${link.search}`);
};
/** What an attacker could compare: everything but the values any two applications differ in. */
const comparable = (res: ApiResponse) => {
  const body = JSON.stringify(res.body)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/token=[\w-]+/g, 'token=<secret>')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>')
    .replace(/Probe \d+/g, '<name>');
  return { status: res.status, body, headers: [...res.headers.keys()].filter((h) => !['date', 'x-request-id', 'content-length'].includes(h)).sort() };
};
const as = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'probe' }, work);
const rowsOf = (table: 'members' | 'registration_refusals') => as((tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([table])}`));

beforeAll(async () => {
  api = await startApiHarness();
  const attributes = applicant();
  const res = await apply(attributes);
  if (res.status !== 201) throw new Error(`seeding the member answered ${res.status}`);
  member = { phone: attributes.phone, email: attributes.email, id: res.body.data.id as string };
}, 120_000);
afterAll(() => api.stop());

test.each([
  ['the phone', () => ({ phone: `+977${member.phone}` })],
  ["the phone in another spelling", () => ({ phone: `${member.phone.slice(0, 3)}-${member.phone.slice(3)}` })],
  ['the email', () => ({ email: member.email.toUpperCase() })],
])("applying with a member's %s answers exactly as with a contact no one holds, and records no member", async (_name, taken) => {
  const [members, refusals] = [await rowsOf('members'), await rowsOf('registration_refusals')];
  const probe = await apply(applicant(taken()));
  const control = await apply(applicant());
  expect(comparable(probe)).toEqual(comparable(control));
  expect(comparable(await follow(probe))).toEqual(comparable(await follow(control)));
  expect(await rowsOf('members')).toBe(members + 1);
  expect(await rowsOf('registration_refusals')).toBe(refusals + 1);
});

test("the live status of an application with a member's phone streams exactly what a new application's does", async () => {
  const probe = await apply(applicant({ phone: member.phone }));
  const control = await apply(applicant());
  const firstFrame = async (res: ApiResponse) => {
    const link = new URL(res.body.data.links.status as string);
    const stream = await openEventStream(`${api.baseUrl}${link.pathname}/events${link.search}`);
    const frame = await stream.waitFor(() => true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stream.close();
    return { status: stream.status, type: stream.headers.get('content-type'), frames: stream.frames.length, frame: JSON.stringify(frame).replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>') };
  };
  expect(await firstFrame(probe)).toEqual(await firstFrame(control));
});

test('a keyed repeat answers the same for a taken contact (its lifecycle ended) as for a free one (its lifecycle runs)', async () => {
  const [probeKey, controlKey] = [randomUUID(), randomUUID()];
  const [probeApplication, controlApplication] = [applicant({ phone: member.phone }), applicant()];
  const probe = await apply(probeApplication, probeKey);
  const control = await apply(controlApplication, controlKey);
  expect(comparable(probe)).toEqual(comparable(control));
  await (await startedLifecycle(api.client, memberWorkflowId(api.tenant.id, probe.body.data.id as string))).result();
  expect(comparable(await apply(probeApplication, probeKey))).toEqual(comparable(await apply(controlApplication, controlKey)));
  expect(comparable(await apply(applicant(), probeKey))).toEqual(comparable(await apply(applicant(), controlKey)));
});

test("with a ward that does not exist, a member's phone and a free one get the same 422", async () => {
  const wardId = randomUUID();
  const probe = await apply(applicant({ phone: member.phone, wardId }));
  const control = await apply(applicant({ wardId }));
  expect(probe.status).toBe(422);
  expect(comparable(probe)).toEqual(comparable(control));
});

test('the holder of the contact is told, by email, that an application used it; their own registration is unchanged', async () => {
  await api.smtp.waitFor((mail) => mail.subject?.includes('used your phone number') === true && mail.to !== undefined && JSON.stringify(mail.to).includes(member.email));
  const status = await as((tx) => tx.oneFirst(sql.type(z.object({ s: z.string() }))`SELECT status::text AS s FROM members WHERE id = ${member.id}`));
  expect(status).toBe('awaiting_approval');
});
