import { randomUUID } from 'node:crypto';
import { signWebhook } from '../../../api/payments/webhook-signature.ts';
import type { Operation } from './openapi-operations.ts';
import type { Invoice } from './party-fixtures.ts';

export interface ProbeCall { method: string; path: string; body?: unknown; raw?: string; headers?: Record<string, string> }

/** What a probe needs to look valid in every respect but whose the id is. */
export interface ProbeSetting {
  /** The probing party's slug, for the routes that name a party. */
  ownSlug: string;
  /** An open invoice of the probed party, so a payment claim is otherwise right. */
  invoice: Invoice;
  /** Status-link secrets of the probed party's applicants, by member id. */
  statusTokens: Map<string, string>;
  /** The probing party's own webhook secret for esewa. */
  webhookSecret: string;
  /** A ward valid today (shared geography), for transfer requests. */
  wardId: string;
  /** Transfer-link secrets the probed party made for its members, by member id. */
  transferTokens: Map<string, string>;
  /** A resignation link's token as the probing party signs it, for any member id and expiry. */
  resignationToken: (memberId: string, expires: string) => string;
}

const jsonApi = (type: string, attributes: Record<string, unknown>) => ({ data: { type, attributes } });

/** For each documented operation that takes an id: a well-formed request about `id`, so only its ownership can refuse it. */
export const ID_PROBES: Record<string, (id: string, s: ProbeSetting) => ProbeCall> = {
  'GET /api/members/{id}': (id) => ({ method: 'GET', path: `/api/members/${id}?include=geography,committee` }),
  'GET /api/members/{id}/history': (id) => ({ method: 'GET', path: `/api/members/${id}/history` }),
  'GET /api/members/{id}/terms': (id) => ({ method: 'GET', path: `/api/members/${id}/terms` }),
  'POST /api/members/{id}/renewals': (id) => ({ method: 'POST', path: `/api/members/${id}/renewals`, body: jsonApi('renewals', { termNumber: 1 }) }),
  'POST /api/members/{id}/approve': (id) => ({ method: 'POST', path: `/api/members/${id}/approve`, body: jsonApi('approvals', { note: 'probe' }) }),
  'POST /api/members/{id}/reject': (id) => ({ method: 'POST', path: `/api/members/${id}/reject`, body: jsonApi('rejections', { reason: 'probe reason' }) }),
  'POST /api/members/{id}/payments': (id, s) => ({ method: 'POST', path: `/api/members/${id}/payments`, body: jsonApi('payments', {
    invoiceId: s.invoice.invoiceId, amount: s.invoice.amountMinor, currency: s.invoice.currency, reference: `PROBE-${randomUUID()}`, paidAt: new Date().toISOString() }) }),
  'GET /api/members/{id}/invoices': (id) => ({ method: 'GET', path: `/api/members/${id}/invoices` }),
  'GET /api/members/{id}/payments': (id) => ({ method: 'GET', path: `/api/members/${id}/payments` }),
  'GET /api/invoices/{id}': (id) => ({ method: 'GET', path: `/api/invoices/${id}` }),
  'GET /api/members/{id}/card': (id) => ({ method: 'GET', path: `/api/members/${id}/card` }),
  'POST /api/members/{id}/card/revoke': (id) => ({ method: 'POST', path: `/api/members/${id}/card/revoke`, body: jsonApi('card-revocations', { reason: 'lost' }) }),
  'POST /api/users/{id}/disable': (id) => ({ method: 'POST', path: `/api/users/${id}/disable`, body: jsonApi('user-disablements', { reason: 'probe' }) }),
  'POST /api/users/{id}/roles/{role}/revoke': (id) => ({ method: 'POST', path: `/api/users/${id}/roles/tenant_admin/revoke`, body: jsonApi('role-revocations', { reason: 'probe' }) }),
  // The id as the committee and as its head: either one of party A's is not found.
  'POST /api/committees/{id}/heads/{userId}/end': (id) => ({ method: 'POST', path: `/api/committees/${id}/heads/${id}/end`, body: jsonApi('headship-endings', { reason: 'probe' }) }),
  'POST /api/members/{id}/transfers': (id, s) => ({ method: 'POST', path: `/api/members/${id}/transfers`, body: jsonApi('transfers', { toWardId: s.wardId }) }),
  'GET /api/members/{id}/transfers': (id) => ({ method: 'GET', path: `/api/members/${id}/transfers` }),
  'POST /api/transfers/{id}/approve': (id) => ({ method: 'POST', path: `/api/transfers/${id}/approve` }),
  'POST /api/transfers/{id}/refuse': (id) => ({ method: 'POST', path: `/api/transfers/${id}/refuse`, body: jsonApi('transfer-refusals', { reasonCode: 'other' }) }),
  // The member's real transfer-link secret, under the probing party's slug.
  'POST /api/parties/{slug}/members/{id}/transfers': (id, s) => ({ method: 'POST',
    path: `/api/parties/${s.ownSlug}/members/${id}/transfers?token=${s.transferTokens.get(id) ?? `1999999999.${'p'.repeat(43)}`}`, body: jsonApi('transfers', { toWardId: s.wardId }) }),
  // Status changes: well-formed, so only whose the member is decides.
  'POST /api/members/{id}/suspensions': (id) => ({ method: 'POST', path: `/api/members/${id}/suspensions`,
    body: jsonApi('suspensions', { until: new Date(Date.now() + 3_600_000).toISOString(), reasonCode: 'misconduct' }) }),
  'POST /api/members/{id}/suspensions/lift': (id) => ({ method: 'POST', path: `/api/members/${id}/suspensions/lift` }),
  'POST /api/members/{id}/expulsion-proposals': (id) => ({ method: 'POST', path: `/api/members/${id}/expulsion-proposals`, body: jsonApi('expulsion-proposals', { reasonCode: 'misconduct' }) }),
  'POST /api/members/{id}/expulsion-proposals/confirm': (id) => ({ method: 'POST', path: `/api/members/${id}/expulsion-proposals/confirm` }),
  'POST /api/members/{id}/resignations': (id) => ({ method: 'POST', path: `/api/members/${id}/resignations`, body: jsonApi('resignations', { reasonCode: 'personal' }) }),
  'POST /api/members/{id}/death': (id) => ({ method: 'POST', path: `/api/members/${id}/death`, body: jsonApi('deaths', { note: 'probe' }) }),
  // A link the probing party really signed for this member id, under its own slug.
  'POST /api/parties/{slug}/resignations': (id, s) => {
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    return { method: 'POST', path: `/api/parties/${s.ownSlug}/resignations`, body: jsonApi('resignations', { member: id, expires, token: s.resignationToken(id, expires), reasonCode: 'personal' }) };
  },
  'GET /api/statistics/geography/{nodeId}': (id) => ({ method: 'GET', path: `/api/statistics/geography/${id}` }),
  // Every root field of the graph that takes an id, with the id as each: one of party A's is as unknown as no party's.
  'POST /api/graphql': (id) => ({ method: 'POST', path: '/api/graphql', headers: { 'content-type': 'application/json' }, body: {
    query: 'query Probe($id: ID!) { member(id: $id) { id fullNameEn } invoice(id: $id) { id member { id } } committee(id: $id) { id name } statistics(geography: $id) { total } }',
    variables: { id } } }),
  // The applicant's real status-link secret, under the probing party's slug.
  'GET /api/parties/{slug}/applications/{id}': (id, s) => ({ method: 'GET', path: `/api/parties/${s.ownSlug}/applications/${id}?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}` }),
  'GET /api/parties/{slug}/applications/{id}/events': (id, s) => ({ method: 'GET', path: `/api/parties/${s.ownSlug}/applications/${id}/events?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}` }),
  'GET /api/parties/{slug}/applications/{id}/card': (id, s) => ({ method: 'GET', path: `/api/parties/${s.ownSlug}/applications/${id}/card?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}` }),
  'GET /api/members/{id}/events': (id) => ({ method: 'GET', path: `/api/members/${id}/events` }),
  'GET /api/parties/{slug}/payments/attempts/{id}/form': (id, s) => ({ method: 'GET', path: `/api/parties/${s.ownSlug}/payments/attempts/${id}/form` }),
  'POST /api/parties/{slug}/applications/{id}/payments': (id, s) => ({ method: 'POST',
    path: `/api/parties/${s.ownSlug}/applications/${id}/payments?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}`, body: jsonApi('payment-attempts', { gateway: 'esewa' }) }),
  'GET /api/parties/{slug}/applications/{id}/data': (id, s) => ({ method: 'GET', path: `/api/parties/${s.ownSlug}/applications/${id}/data?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}` }),
  // The applicant's real status-link secret, under the probing party's slug: a withdrawal of A's application through B.
  'POST /api/parties/{slug}/applications/{id}/withdraw': (id, s) => ({ method: 'POST',
    path: `/api/parties/${s.ownSlug}/applications/${id}/withdraw?token=${s.statusTokens.get(id) ?? 'p'.repeat(32)}`, body: jsonApi('withdrawals', { reasonCode: 'other' }) }),
  // The reconciliation queue: an item of A's, attached to A's own open invoice or marked for refund.
  'GET /api/payment-reconciliation/{id}': (id) => ({ method: 'GET', path: `/api/payment-reconciliation/${id}` }),
  'POST /api/payment-reconciliation/{id}/attach': (id, s) => ({ method: 'POST', path: `/api/payment-reconciliation/${id}/attach`,
    body: jsonApi('payment-reconciliation', { invoiceId: s.invoice.invoiceId, note: 'probe' }) }),
  'POST /api/payment-reconciliation/{id}/refund': (id) => ({ method: 'POST', path: `/api/payment-reconciliation/${id}/refund`, body: jsonApi('payment-reconciliation', { note: 'probe' }) }),
  // Correctly signed with the probing party's own esewa secret, for its own URL.
  'POST /api/parties/{slug}/payments/webhooks/{provider}': (id, s) => {
    const raw = JSON.stringify({ memberId: id, invoiceId: s.invoice.invoiceId, amount: s.invoice.amountMinor, currency: s.invoice.currency, reference: `probe-${randomUUID()}`, paidAt: new Date().toISOString() });
    return { method: 'POST', path: `/api/parties/${s.ownSlug}/payments/webhooks/esewa`, raw, headers: { 'content-type': 'application/json', 'x-signature': signWebhook(s.webhookSecret, s.ownSlug, 'esewa', raw) } };
  },
};

/**
 * Documented operations with an id among their path parameters or body fields (a webhook's, or
 * a JSON:API document's attributes), and the GraphQL endpoint; a ward id names shared geography, no party's row.
 */
export const takesAnId = (op: Operation) => {
  // The graph takes ids inside its query document (as variables), not as declared fields.
  if (op.key === 'POST /api/graphql') return true;
  const attributes = op.body?.schema.properties?.data?.properties?.attributes?.properties ?? {};
  const fields = { ...(op.body?.schema.properties ?? {}), ...attributes };
  return op.pathParams.some((p) => p.schema.format === 'uuid') || Object.entries(fields).some(([name, p]) => p.format === 'uuid' && name !== 'wardId');
};
