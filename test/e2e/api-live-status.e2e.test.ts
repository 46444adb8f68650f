import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'slonik';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { GEOGRAPHY_CACHE_TTL_SECONDS } from '../../api/geography/routes.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { openEventStream } from '../support/sse.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

let api: ApiHarness & { stop(): Promise<void> };
let head: string;
let esewa: string;
const phone = () => `98${String(40_000_000 + Math.floor(Math.random() * 9_999_999))}`;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 600_000 });
  head = await api.tokenFor(api.headUserId);
  esewa = await api.webhookSecret('esewa');
});
afterAll(() => api.stop());

async function apply() {
  const res = await api.request('POST', `/api/parties/${api.tenant.slug}/applications`, { body: { data: { type: 'applications', attributes: {
    fullNameEn: 'Maya Gurung', fullNameNe: 'माया गुरुङ', gender: 'F', phone: phone(), email: `${randomUUID()}@example.np`, wardId: api.geo.wardIds[1], ...ELIGIBLE } } } });
  expect(res.status).toBe(201);
  const link = new URL(res.body.data.links.status as string);
  return { memberId: res.body.data.id as string, path: `${link.pathname}${link.search}`, token: link.searchParams.get('token')! };
}
const eventsUrl = (a: { memberId: string; token: string }) => `${api.baseUrl}/api/parties/${api.tenant.slug}/applications/${a.memberId}/events?token=${a.token}`;
const typeOf = (data: string) => (JSON.parse(data) as { type: string }).type;

describe('GET /api/geography', () => {
  test('lists nodes by parent, type and English or Nepali name, wards in number order, only those valid today', async () => {
    await api.db.owner.query(sql.unsafe`INSERT INTO geography_nodes (code, parent_id, type, path, name_en, ward_number, valid_from, valid_to)
      VALUES ('LT1_W9', ${api.geo.localLevelId}, 'ward', 'pt1.dt1.lt1.w9'::ltree, 'Test Municipality Ward 9', 9, '2017-03-10', '2020-01-01'),
             ('LT1_W8', ${api.geo.localLevelId}, 'ward', 'pt1.dt1.lt1.w8'::ltree, 'Test Municipality Ward 8', 8, '2999-01-01', NULL)`);
    const wards = await api.request('GET', `/api/geography?filter[parent]=${api.geo.localLevelId}`);
    expect(wards.status).toBe(200);
    expect(wards.body.data.map((n: { id: string }) => n.id)).toEqual(api.geo.wardIds);
    expect(wards.body.data[0]).toMatchObject({ type: 'geography-nodes', attributes: { type: 'ward', wardNumber: 1 }, relationships: { parent: { data: { id: api.geo.localLevelId } } } });
    const provinces = await api.request('GET', `/api/geography?filter[type]=province&filter[name]=${encodeURIComponent('परीक्षण')}`);
    expect(provinces.body.data.map((n: { id: string }) => n.id)).toEqual([api.geo.provinceId]);
    const byEnglish = await api.request('GET', '/api/geography?filter[name]=test%20distr');
    expect(byEnglish.body.data.map((n: { id: string }) => n.id)).toEqual([api.geo.districtId]);
  });

  test('pages with a cursor', async () => {
    const first = await api.request('GET', `/api/geography?filter[parent]=${api.geo.localLevelId}&page[size]=2`);
    expect(first.body.data).toHaveLength(2);
    const second = await api.request('GET', first.body.links.next as string);
    expect([...first.body.data, ...second.body.data].map((n: { id: string }) => n.id)).toEqual(api.geo.wardIds);
    expect(second.body.links.next).toBeNull();
  });

  test('answers with ETag and Cache-Control, 304 for a listing held, and keeps a listing for its TTL', async () => {
    const path = `/api/geography?filter[parent]=${api.geo.districtId}`;
    const first = await api.request('GET', path);
    expect(first.headers.get('cache-control')).toBe(`public, max-age=${GEOGRAPHY_CACHE_TTL_SECONDS}`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await api.request('GET', path, { headers: { 'if-none-match': etag } });
    expect([again.status, again.body]).toEqual([304, null]);
    // Written after the listing was cached: the cache answers as before until its TTL runs out.
    await api.db.owner.query(sql.unsafe`INSERT INTO geography_nodes (code, parent_id, type, category, path, name_en)
      VALUES ('LT1B', ${api.geo.districtId}, 'local_level', 'rural_municipality', 'pt1.dt1.lt1b'::ltree, 'Another Rural Municipality')`);
    const cached = await api.request('GET', path);
    expect([cached.headers.get('etag'), cached.body.data.length]).toEqual([etag, 1]);
  });

  test('a bad filter is refused naming the parameter', async () => {
    const res = await api.request('GET', '/api/geography?filter[type]=village');
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ code: 'INVALID_PARAMETER', source: { parameter: 'filter.type' } });
  });
});

describe('the status link', () => {
  test('shows the open invoice with how to pay, updates live, resumes after Last-Event-ID, and gives the card', async () => {
    const applicant = await apply();
    const live = await openEventStream(eventsUrl(applicant));
    expect([live.status, live.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
    await live.waitFor((f) => typeOf(f.data) === 'MemberRegistered');
    expect((await api.request('GET', applicant.path)).body.included).toEqual([]);

    expect((await api.request('POST', `/api/members/${applicant.memberId}/approve`, { token: head, body: { data: { type: 'approvals', attributes: { note: 'welcome' } } } })).status).toBe(200);
    // Pushed on the open stream, no reconnect and no polling.
    const issued = await live.waitFor((f) => typeOf(f.data) === 'InvoiceIssued');
    expect(JSON.parse(issued.data)).toMatchObject({ status: 'pending', statusDetail: 'awaiting_payment' });
    expect(live.frames.map((f) => typeOf(f.data))).toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued']);
    expect(live.frames.map((f) => f.event)).toEqual(['member', 'member', 'member']);
    const lastId = live.frames.at(-1)!.id!;
    await live.close();

    const status = await api.request('GET', applicant.path);
    const invoice = status.body.included[0];
    expect(invoice).toMatchObject({ type: 'invoices', attributes: { purpose: 'admission', amountMinor: 50_000, currency: 'NPR', howToPay: { reference: invoice.id, online: ['esewa'], inPerson: true } } });
    expect(Date.parse(invoice.attributes.dueAt)).toBeGreaterThan(Date.now());

    // Paid while nobody listened: the reconnect with Last-Event-ID gets exactly what it missed.
    const raw = JSON.stringify({ memberId: applicant.memberId, invoiceId: invoice.id, amount: 50_000, currency: 'NPR', reference: `esewa-${randomUUID()}`, paidAt: new Date().toISOString() });
    const paid = await api.request('POST', `/api/parties/${api.tenant.slug}/payments/webhooks/esewa`, { raw, headers: { 'content-type': 'application/json', 'x-signature': signWebhook(esewa, api.tenant.slug, 'esewa', raw) } });
    expect(paid.status).toBe(200);
    const resumed = await openEventStream(eventsUrl(applicant), { 'last-event-id': lastId });
    const card = await resumed.waitFor((f) => typeOf(f.data) === 'IdCardIssued');
    expect(JSON.parse(card.data)).toMatchObject({ status: 'active', memberNumber: expect.any(String) });
    expect(resumed.frames[0]!.id).toBe(String(Number(lastId) + 1));
    expect(resumed.frames.map((f) => typeOf(f.data))).not.toContain('InvoiceIssued');
    expect(resumed.frames.map((f) => typeOf(f.data))).toEqual(expect.arrayContaining(['PaymentReceived', 'MemberActivated', 'IdCardIssued']));
    await resumed.close();

    const after = await api.request('GET', applicant.path);
    expect(after.body.included).toEqual([]);
    expect(after.body.data.links.card).toBe(`/api/parties/${api.tenant.slug}/applications/${applicant.memberId}/card?token=${applicant.token}`);
    const pdf = await fetch(`${api.baseUrl}${after.body.data.links.card}`);
    expect([pdf.status, pdf.headers.get('content-type')]).toEqual([200, 'application/pdf']);
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
  }, 120_000);

  test('opened in a browser, the link leads to the status page; API clients get the resource', async () => {
    const applicant = await apply();
    const browser = await fetch(`${api.baseUrl}${applicant.path}`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, redirect: 'manual' });
    expect([browser.status, browser.headers.get('location')]).toEqual([303, `/parties/${api.tenant.slug}/applications/${applicant.memberId}?token=${applicant.token}`]);
    expect((await api.request('GET', applicant.path, { headers: { accept: '*/*' } })).status).toBe(200);
    const page = await fetch(`${api.baseUrl}${browser.headers.get('location')!}`);
    expect([page.status, page.headers.get('content-type'), page.headers.get('referrer-policy')]).toEqual([200, 'text/html; charset=utf-8', 'no-referrer']);
  });

  test('a wrong token gets 404 from the stream and the card, like an unknown id; no card yet is CARD_NOT_FOUND', async () => {
    const applicant = await apply();
    for (const path of [`/events?token=${'x'.repeat(32)}`, `/card?token=${'x'.repeat(32)}`]) {
      expect((await api.request('GET', `/api/parties/${api.tenant.slug}/applications/${applicant.memberId}${path}`)).status).toBe(404);
      expect((await api.request('GET', `/api/parties/${api.tenant.slug}/applications/${randomUUID()}${path}`)).status).toBe(404);
    }
    const card = await api.request('GET', `/api/parties/${api.tenant.slug}/applications/${applicant.memberId}/card?token=${applicant.token}`);
    expect([card.status, card.body.errors[0].code]).toEqual([404, 'CARD_NOT_FOUND']);
  });
});

test("the listener's connection killed: it reconnects by itself, and an open stream still gets the event appended meanwhile", async () => {
  const applicant = await apply();
  const live = await openEventStream(eventsUrl(applicant));
  await live.waitFor((f) => typeOf(f.data) === 'MemberRegistered');
  const superuser = new pg.Client({ connectionString: process.env.TEST_PG_SUPERUSER_URL });
  await superuser.connect();
  try {
    const killed = await superuser.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sadasya-member-events' AND datname = $1`, [api.db.name]);
    expect(killed.rowCount).toBe(1);
  } finally {
    await superuser.end();
  }
  // Rejected while the listener is down, and nothing after it: its NOTIFY went to no one, yet the
  // listener, back after a second, wakes every stream, which reads what it missed.
  expect((await api.request('POST', `/api/members/${applicant.memberId}/reject`, { token: head, body: { data: { type: 'rejections', attributes: { reason: 'not eligible' } } } })).status).toBe(200);
  await live.waitFor((f) => typeOf(f.data) === 'MemberRejected', 10_000);
  expect(live.frames.map((f) => typeOf(f.data))).toEqual(['MemberRegistered', 'MemberRejected']);
  await live.close();
}, 60_000);

describe('GET /api/members/{id}/events', () => {
  test('streams every event of the member to staff and covering heads; others are refused', async () => {
    const applicant = await apply();
    const stream = await openEventStream(`${api.baseUrl}/api/members/${applicant.memberId}/events`, { authorization: `Bearer ${head}` });
    expect(stream.status).toBe(200);
    await stream.waitFor((f) => typeOf(f.data) === 'MemberRegistered');
    await api.request('POST', `/api/members/${applicant.memberId}/reject`, { token: head, body: { data: { type: 'rejections', attributes: { reason: 'not eligible' } } } });
    expect(JSON.parse((await stream.waitFor((f) => typeOf(f.data) === 'MemberRejected')).data)).toMatchObject({ status: 'rejected' });
    await stream.close();
    const treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
    const nobody = (await api.userWithToken()).token;
    expect((await api.request('GET', `/api/members/${applicant.memberId}/events`, { token: treasurer })).status).toBe(200);
    expect((await api.request('GET', `/api/members/${applicant.memberId}/events`, { token: nobody })).status).toBe(403);
    expect((await api.request('GET', `/api/members/${applicant.memberId}/events`)).status).toBe(401);
    expect((await api.request('GET', `/api/members/${randomUUID()}/events`, { token: treasurer })).status).toBe(404);
    expect((await api.request('GET', `/api/members/${applicant.memberId}/events`, { token: treasurer, headers: { 'last-event-id': 'abc' } })).status).toBe(400);
  });
});
