import { randomUUID } from 'node:crypto';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { contractProblems, documentedRegistry, parsedBody } from '../support/contract.ts';
import { problemsWith } from './support/error-documents.ts';
import { seedMembers, type Invoice, type PartyMembers } from './support/party-fixtures.ts';
import { retryingActivities } from './support/retrying-activities.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

/**
 * Inputs that answered 500, or no answer at all, when the fuzzer and its follow-up probes
 * found them: fixed cases, so each fails every run until fixed. The writes are schema-valid
 * (the fuzzer sends writes only bodies that cannot be valid), carrying text Postgres refuses.
 */
const ANSWER_WITHIN_MS = 10_000;

let api: ApiHarness & { stop(): Promise<void> };
let first: PartyMembers;
let second: PartyMembers;
const tokens: Record<'admin' | 'head' | 'treasurer', string> = { admin: '', head: '', treasurer: '' };
const knownRetrying = new Set<string>();

let webhookSecret: string;

/** Signed with the party's esewa secret for the party and provider the path names, as they reach the API. */
function signatureFor(path: string, raw: string): string {
  const [, party = '', provider = ''] = /^\/api\/parties\/([^/]*)\/payments\/webhooks\/([^/?]*)/.exec(path) ?? [];
  return signWebhook(webhookSecret, decodeURIComponent(party), decodeURIComponent(provider), raw);
}

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  first = await seedMembers(api, api.tenant);
  second = await seedMembers(api, api.tenant);
  tokens.admin = (await api.userWithToken({ roles: ['tenant_admin'] })).token;
  tokens.treasurer = (await api.userWithToken({ roles: ['treasurer'] })).token;
  tokens.head = await api.tokenFor(api.headUserId);
  webhookSecret = await api.webhookSecret('esewa');
}, 180_000);
afterAll(() => api.stop());

interface Case { method: string; path: () => string; body?: () => unknown; as?: keyof typeof tokens; signed?: boolean }

const jsonApi = (type: string, attributes: Record<string, unknown>) => ({ data: { type, attributes } });
const login = (tenant: () => string, email: string): Case => ({ method: 'POST', path: () => '/api/auth/login', body: () => jsonApi('sessions', { tenant: tenant(), email, password: 'a long enough password' }) });
const search = (query: () => string): Case => ({ method: 'GET', path: () => `/api/members?${query()}`, as: 'admin' });
const cursor = (registeredAt: string) => () => `page[cursor]=${Buffer.from(`${registeredAt}|${randomUUID()}`).toString('base64url')}`;
const claim = (invoice: () => Invoice, change: Record<string, unknown>) => () => ({
  invoiceId: invoice().invoiceId, amount: invoice().amountMinor, currency: invoice().currency, reference: `R-${randomUUID()}`, paidAt: new Date().toISOString(), ...change });
const manual = (member: () => PartyMembers['awaitingPayment'], change: Record<string, unknown>): Case => ({
  method: 'POST', path: () => `/api/members/${member().memberId}/payments`, as: 'treasurer', body: () => jsonApi('payments', claim(() => member().invoice, change)()) });

const READS: [string, Case][] = [
  ['a NUL in the party slug of the card keys', { method: 'GET', path: () => '/api/parties/%00/card-keys' }],
  ['a NUL in the party slug of a login', login(() => 'a\u0000b', 'head@party.test')],
  ['a NUL in the email of a login', login(() => api.tenant.slug, 'head\u0000@party.test')],
  ['a search from the year 0', search(() => 'filter[registeredFrom]=0000-01-01')],
  ['a search until the year 0', search(() => 'filter[registeredTo]=0000-01-01T00:00:00Z')],
  ['a NUL in a searched name', search(() => 'filter[name]=a%00b')],
  ['a forged cursor whose date Date.parse accepts and Postgres does not', search(cursor('0'))],
  ['a forged cursor from the year 0', search(cursor('0000-01-01T00:00:00Z'))],
  ['a NUL in the party slug of a signed webhook', { method: 'POST', path: () => '/api/parties/%00/payments/webhooks/esewa', signed: true,
    body: () => ({ memberId: randomUUID(), ...claim(() => ({ invoiceId: randomUUID(), amountMinor: 100, currency: 'NPR' }), {})() }) }],
];

const WRITES: [string, Case][] = [
  ['an application whose name holds a NUL', { method: 'POST', path: () => `/api/parties/${api.tenant.slug}/applications`,
    body: () => jsonApi('applications', { ...ELIGIBLE, fullNameEn: 'Ram\u0000Thapa', gender: 'M', phone: '9851234567', wardId: api.geo.wardIds[0] }) }],
  ['an approval whose note holds a NUL', { method: 'POST', path: () => `/api/members/${first.awaitingApproval.memberId}/approve`, as: 'head', body: () => jsonApi('approvals', { note: 'ok\u0000' }) }],
  ['a rejection whose reason holds a NUL', { method: 'POST', path: () => `/api/members/${second.awaitingApproval.memberId}/reject`, as: 'head', body: () => jsonApi('rejections', { reason: 'no\u0000pe' }) }],
  ['a manual payment dated in the year 0', manual(() => first.awaitingPayment, { paidAt: '0000-01-01T00:00:00Z' })],
  ['a manual payment whose receipt number holds a NUL', manual(() => second.awaitingPayment, { reference: 'R\u0000' })],
  ['a signed webhook dated in the year 0', { method: 'POST', path: () => `/api/parties/${api.tenant.slug}/payments/webhooks/esewa`, signed: true,
    body: () => ({ memberId: second.awaitingPayment.memberId, ...claim(() => second.awaitingPayment.invoice, { paidAt: '0000-01-01T00:00:00Z' })() }) }],
];

/** The problems with the answer to `c`, or that there was none in time. */
async function problemsAnswering(c: Case): Promise<string[]> {
  const raw = c.body ? JSON.stringify(c.body()) : undefined;
  const path = c.path();
  const headers: Record<string, string> = {
    ...(c.as ? { authorization: `Bearer ${tokens[c.as]}` } : {}),
    ...(raw ? { 'content-type': c.signed ? 'application/json' : 'application/vnd.api+json' } : {}),
    ...(raw && c.signed ? { 'x-signature': signatureFor(path, raw) } : {}),
  };
  try {
    const res = await fetch(`${api.baseUrl}${path}`, { method: c.method, headers, body: raw, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    const [contentType, text] = [res.headers.get('content-type') ?? '', await res.text()];
    return [
      ...problemsWith({ method: c.method, status: res.status, contentType, text }),
      ...contractProblems(documentedRegistry(), { method: c.method, url: path }, { status: res.status, contentType, body: parsedBody(text) }),
    ];
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return [`no answer within ${ANSWER_WITHIN_MS} ms`];
    throw err;
  }
}

test.each(READS)('%s answers 4xx, not 500', async (_name, c) => {
  expect(await problemsAnswering(c)).toEqual([]);
});

test.each(WRITES)('%s is answered in time without a 5xx, and leaves no lifecycle retrying an activity', async (_name, c) => {
  const problems = await problemsAnswering(c);
  // Long enough for a failed activity's first retry (initial interval 1 s).
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const retrying = (await retryingActivities(api.client, api.tenant.id)).filter((r) => !knownRetrying.has(r.split(':')[0]!));
  for (const r of retrying) knownRetrying.add(r.split(':')[0]!);
  expect({ problems, retrying }).toEqual({ problems: [], retrying: [] });
}, 60_000);
