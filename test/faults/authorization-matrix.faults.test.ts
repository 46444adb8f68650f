import { randomUUID } from 'node:crypto';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { CALLERS, callersOf, type Caller, type Credentials } from './support/callers.ts';
import { documentedOperations } from './support/openapi-operations.ts';
import { seedMembers, type PartyMembers } from './support/party-fixtures.ts';
import { addCommitteeWithHead, applicationFor, awaitInvoice, lifecycleHandle, paymentFor } from '../support/lifecycle-harness.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { requestTransfer } from '../../src/transfers/transfer-client.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { addReconciliationItem } from '../../src/payments/reconciliation.ts';

interface Call { method: string; path: string; body?: unknown; headers?: Record<string, string> }
interface Row {
  /** The documented operation, as /openapi.json names it. */
  operation: string;
  target: string;
  /** One status per caller, in CALLERS order. */
  expected: readonly number[];
  call: (who: Credentials) => Call;
}

let api: ApiHarness & { stop(): Promise<void> };
let members: PartyMembers;
let credentials: Record<Caller, Credentials>;
let phone = 0;
const observed: string[] = [];
/** Whom the rows that take access away act on: users and a headship of their own, so no caller loses theirs. */
let targets: { disabled: string; demoted: string; headship: { committeeId: string; headUserId: string } };
/** An active member of the harness's second ward with a transfer to the third waiting (the head inside covers both). */
let transferee: { memberId: string; transferId: string };
/** Two items in the reconciliation queue: one for refund, one holding what the payer's open invoice asks. */
let reconciliation: { refund: string; attach: string; invoiceId: string };

async function activeMemberWithTransfer(): Promise<typeof transferee> {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, 'transferee@example.np'));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:fixture' });
  await sendLifecycleUpdate(api.client, member.workflowId, paymentReceivedUpdate, paymentFor(await awaitInvoice(lifecycleHandle(api, member.workflowId))));
  await lifecycleHandle(api, member.workflowId).result();
  const transfer = await requestTransfer({ client: api.client, pool: api.db.app }, { tenantId: api.tenant.id, actor: 'fixture' },
    { memberId: member.memberId, toWardId: api.geo.wardIds[2]!, via: 'staff', requestedBy: 'fixture' });
  return { memberId: member.memberId, transferId: transfer!.id };
}

async function reconciliationItems(): Promise<typeof reconciliation> {
  const payer = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, 'reconciled@example.np'));
  await sendLifecycleUpdate(api.client, payer.workflowId, approveUpdate, { by: 'user:fixture' });
  const invoice = await awaitInvoice(lifecycleHandle(api, payer.workflowId));
  const item = (reference: string) => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'fixture' }, (tx) => addReconciliationItem(tx, {
    tenantId: api.tenant.id, gateway: 'khalti', reference, attemptId: null, memberId: null, amountMinor: invoice.amountMinor, currency: invoice.currency,
    reason: 'unknown_reference', detail: 'matrix' }));
  return { refund: (await item('MATRIX-PIDX-1')).id, attach: (await item('MATRIX-PIDX-2')).id, invoiceId: invoice.invoiceId };
}

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  members = await seedMembers(api, api.tenant);
  await api.webhookSecret('esewa'); // the party takes esewa webhooks: an unsigned one is still refused
  ({ credentials } = await callersOf(api, members.awaitingApproval.statusToken));
  targets = {
    disabled: (await api.userWithToken({ roles: ['registrar'] })).userId,
    demoted: (await api.userWithToken({ roles: ['ops'] })).userId,
    headship: await addCommitteeWithHead(api, api.geo.districtId, 'Matrix District Committee', 'matrix-district-head@party.test'),
  };
  transferee = await activeMemberWithTransfer();
  reconciliation = await reconciliationItems();
}, 180_000);
afterAll(() => api.stop());

const slug = () => api.tenant.slug;
const document = (type: string, attributes: Record<string, unknown>) => ({ data: { type, attributes } });
const application = () => document('applications', { ...ELIGIBLE, fullNameEn: 'Sita Rai', gender: 'F', phone: `98${51_000_000 + ++phone}`, wardId: api.geo.wardIds[0] });
const receipt = () => document('payments', { invoiceId: members.awaitingPayment.invoice.invoiceId, amount: members.awaitingPayment.invoice.amountMinor,
  currency: members.awaitingPayment.invoice.currency, reference: 'MATRIX-RECEIPT-1', paidAt: new Date().toISOString() });
const webhook = () => ({ memberId: members.awaitingPayment.memberId, invoiceId: randomUUID(), amount: 1, currency: 'NPR', reference: 'x', paidAt: new Date().toISOString() });

// Rows run top to bottom, callers left to right. Only the head inside may approve, so the
// approval row leaves nothing for a later caller; the admin repeats the treasurer's receipt
// (same reference), which the API answers with the recorded payment: 200.
//                                             anon app  mem  in   out  trea adm  other
const ROWS: Row[] = [
  { operation: 'POST /api/auth/login', target: "the head's own credentials", expected: [201, 201, 201, 201, 201, 201, 201, 201],
    call: () => ({ method: 'POST', path: '/api/auth/login', body: document('sessions', { tenant: slug(), email: 'head@party.test', password: 'a long enough password' }) }) },
  { operation: 'POST /api/parties/{slug}/applications', target: 'a new application', expected: [201, 201, 201, 201, 201, 201, 201, 201],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/applications`, body: application() }) },
  { operation: 'GET /api/parties/{slug}/applications/{id}', target: "the applicant's link (others guess a token)", expected: [404, 200, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'GET', path: `/api/parties/${slug()}/applications/${members.awaitingApproval.memberId}?token=${who.statusToken ?? 'g'.repeat(32)}` }) },
  { operation: 'GET /api/parties/{slug}/applications/{id}/events', target: "the applicant's live status (others guess a token)", expected: [404, 200, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'GET', path: `/api/parties/${slug()}/applications/${members.awaitingApproval.memberId}/events?token=${who.statusToken ?? 'g'.repeat(32)}` }) },
  // The applicant's link is to the member with a card here; every other caller guesses it.
  { operation: 'GET /api/parties/{slug}/applications/{id}/card', target: "the card through its holder's link (others guess a token)", expected: [404, 200, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'GET', path: `/api/parties/${slug()}/applications/${members.withCard.memberId}/card?token=${who.statusToken ? members.withCard.statusToken : 'g'.repeat(32)}` }) },
  // Paying through a gateway from the link: the applicant awaiting approval has nothing to pay yet (409); others guess a token.
  { operation: 'POST /api/parties/{slug}/applications/{id}/payments', target: "the applicant's link, no invoice yet (others guess a token)", expected: [404, 409, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'POST', path: `/api/parties/${slug()}/applications/${members.awaitingApproval.memberId}/payments?token=${who.statusToken ?? 'g'.repeat(32)}`,
      body: document('payment-attempts', { gateway: 'esewa' }) }) },
  { operation: 'GET /api/parties/{slug}/payments/attempts/{id}/form', target: 'an attempt the party does not have', expected: [404, 404, 404, 404, 404, 404, 404, 404],
    call: () => ({ method: 'GET', path: `/api/parties/${slug()}/payments/attempts/${randomUUID()}/form` }) },
  { operation: 'GET /api/parties/{slug}/payments/{gateway}/return', target: 'a return naming an attempt the party does not have', expected: [404, 404, 404, 404, 404, 404, 404, 404],
    call: () => ({ method: 'GET', path: `/api/parties/${slug()}/payments/esewa/return?attempt=${randomUUID()}` }) },
  { operation: 'GET /api/geography', target: 'the wards of a local level (shared, public)', expected: [200, 200, 200, 200, 200, 200, 200, 200],
    call: () => ({ method: 'GET', path: `/api/geography?filter[parent]=${api.geo.localLevelId}` }) },
  { operation: 'GET /api/parties/{slug}/applications/{id}/data', target: "what the party holds, through the applicant's link (others guess a token)", expected: [404, 200, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'GET', path: `/api/parties/${slug()}/applications/${members.awaitingApproval.memberId}/data?token=${who.statusToken ?? 'g'.repeat(32)}` }) },
  { operation: 'GET /api/members', target: 'search awaiting approval', expected: [401, 401, 403, 200, 200, 200, 200, 200],
    call: () => ({ method: 'GET', path: '/api/members?filter[status]=awaiting_approval' }) },
  { operation: 'GET /api/members/{id}', target: 'the member awaiting approval', expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.awaitingApproval.memberId}` }) },
  { operation: 'GET /api/members/{id}/history', target: 'the member awaiting approval', expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.awaitingApproval.memberId}/history` }) },
  // Staff and the heads covering the member read the terms; only the treasurer and the admin start a renewal:
  // the treasurer's start is taken (202), the admin's finds that renewal of the same term (200).
  { operation: 'GET /api/members/{id}/terms', target: 'the member with a card (term 1)', expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.withCard.memberId}/terms` }) },
  { operation: 'POST /api/members/{id}/renewals', target: 'the member with a card, renewing term 1', expected: [401, 401, 403, 403, 403, 202, 200, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.withCard.memberId}/renewals`, body: document('renewals', { termNumber: 1 }) }) },
  { operation: 'GET /api/members/{id}/events', target: "the member awaiting approval's live events", expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.awaitingApproval.memberId}/events` }) },
  { operation: 'POST /api/members/{id}/approve', target: 'the member awaiting approval', expected: [401, 401, 403, 200, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/approve`, body: document('approvals', { note: 'matrix' }) }) },
  { operation: 'POST /api/members/{id}/reject', target: 'the member awaiting payment', expected: [401, 401, 403, 409, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingPayment.memberId}/reject`, body: document('rejections', { reason: 'matrix reason' }) }) },
  { operation: 'POST /api/members/{id}/payments', target: 'the member awaiting payment', expected: [401, 401, 403, 403, 403, 201, 200, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingPayment.memberId}/payments`, body: receipt() }) },
  { operation: 'GET /api/members/{id}/invoices', target: 'the member awaiting payment', expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.awaitingPayment.memberId}/invoices` }) },
  { operation: 'GET /api/invoices/{id}', target: "the open invoice of the member awaiting payment", expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/invoices/${members.awaitingPayment.invoice.invoiceId}` }) },
  { operation: 'GET /api/members/{id}/payments', target: 'the member with a card', expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.withCard.memberId}/payments` }) },
  { operation: 'GET /api/members/{id}/card', target: 'the member with a card', expected: [401, 401, 403, 200, 403, 403, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${members.withCard.memberId}/card` }) },
  { operation: 'GET /api/cards/verify', target: "the member's card token", expected: [200, 200, 200, 200, 200, 200, 200, 200],
    call: () => ({ method: 'GET', path: `/api/cards/verify?token=${members.withCard.cardToken}` }) },
  { operation: 'GET /api/parties/{slug}/card-keys', target: "the party's keys", expected: [200, 200, 200, 200, 200, 200, 200, 200],
    call: () => ({ method: 'GET', path: `/api/parties/${slug()}/card-keys` }) },
  { operation: 'GET /api/statistics/geography/{nodeId}', target: "the head's local level", expected: [401, 401, 403, 200, 403, 403, 200, 200],
    call: () => ({ method: 'GET', path: `/api/statistics/geography/${api.geo.localLevelId}` }) },
  { operation: 'GET /api/finance/dues', target: "the head's local level, this year", expected: [401, 401, 403, 200, 403, 200, 403, 403],
    call: () => ({ method: 'GET', path: `/api/finance/dues?geography=${api.geo.localLevelId}&from=${new Date().getUTCFullYear()}-01-01&to=${new Date().getUTCFullYear()}-12-31` }) },
  { operation: 'GET /api/statistics/geography/{nodeId}', target: "the head's local level, as of today (from the events)", expected: [401, 401, 403, 200, 403, 403, 200, 200],
    call: () => ({ method: 'GET', path: `/api/statistics/geography/${api.geo.localLevelId}?asOf=${new Date().toISOString().slice(0, 10)}` }) },
  // The graph answers 200 to every caller it authenticates; what each may read is in the answer (the leak check below,
  // and the next test holds each field to the REST route that reads the same).
  { operation: 'POST /api/graphql', target: 'the member awaiting approval, a members page, the local level\'s statistics', expected: [401, 401, 200, 200, 200, 200, 200, 200],
    call: () => ({ method: 'POST', path: '/api/graphql', headers: { 'content-type': 'application/json' }, body: { query: GRAPH_QUERY, variables: { id: members.awaitingApproval.memberId, node: api.geo.localLevelId } } }) },
  { operation: 'GET /api/ops/stuck-lifecycles', target: 'awaiting approval', expected: [401, 401, 403, 403, 403, 403, 200, 200],
    call: () => ({ method: 'GET', path: '/api/ops/stuck-lifecycles?stage=AwaitingApproval&olderThanMinutes=0' }) },
  // The reconciliation queue is the treasurer's and the admin's: the treasurer decides, the admin finds it decided (409).
  { operation: 'GET /api/payment-reconciliation', target: 'the open items', expected: [401, 401, 403, 403, 403, 200, 200, 200],
    call: () => ({ method: 'GET', path: '/api/payment-reconciliation?filter[status]=open' }) },
  { operation: 'GET /api/payment-reconciliation/{id}', target: 'an open item', expected: [401, 401, 403, 403, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/payment-reconciliation/${reconciliation.refund}` }) },
  { operation: 'POST /api/payment-reconciliation/{id}/refund', target: 'an open item', expected: [401, 401, 403, 403, 403, 200, 409, 404],
    call: () => ({ method: 'POST', path: `/api/payment-reconciliation/${reconciliation.refund}/refund`, body: document('payment-reconciliation', { note: 'matrix' }) }) },
  { operation: 'POST /api/payment-reconciliation/{id}/attach', target: "an open item, to the payer's open invoice", expected: [401, 401, 403, 403, 403, 200, 409, 404],
    call: () => ({ method: 'POST', path: `/api/payment-reconciliation/${reconciliation.attach}/attach`,
      body: document('payment-reconciliation', { invoiceId: reconciliation.invoiceId, note: 'matrix' }) }) },
  { operation: 'POST /api/parties/{slug}/payments/webhooks/{provider}', target: "unsigned (callers hold no party's webhook secret)", expected: [401, 401, 401, 401, 401, 401, 401, 401],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/payments/webhooks/esewa`, body: webhook(), headers: { 'content-type': 'application/json' } }) },
  { operation: 'POST /api/platform/tenants', target: 'a new party', expected: [401, 401, 401, 401, 401, 401, 401, 401],
    call: () => ({ method: 'POST', path: '/api/platform/tenants', body: document('tenants', { slug: `m-${randomUUID().slice(0, 8)}`, name: 'M', memberNumberPrefix: 'MM', feeSchedule: { currency: 'NPR', admissionFeeMinor: 1 } }) }) },
  { operation: 'GET /api/platform/tenants', target: 'every party', expected: [401, 401, 401, 401, 401, 401, 401, 401],
    call: () => ({ method: 'GET', path: '/api/platform/tenants' }) },
  // The transferee's transfer is open: the admin's request is taken and refused as a second one (409);
  // only the head inside (covering the destination) decides it, once.
  // What waits for a decision: staff and any head may list transfers (a head, those into their areas); heads and the admin, expulsion proposals.
  { operation: 'GET /api/transfers', target: 'transfers waiting for a decision', expected: [401, 401, 403, 200, 200, 200, 200, 200],
    call: () => ({ method: 'GET', path: '/api/transfers?filter[status]=requested' }) },
  { operation: 'GET /api/expulsion-proposals', target: 'expulsion proposals waiting for confirmation', expected: [401, 401, 403, 200, 200, 403, 200, 200],
    call: () => ({ method: 'GET', path: '/api/expulsion-proposals' }) },
  { operation: 'POST /api/members/{id}/transfers', target: 'the transferee, a transfer already open', expected: [401, 401, 403, 403, 403, 403, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${transferee.memberId}/transfers`, body: document('transfers', { toWardId: api.geo.wardIds[0] }) }) },
  { operation: 'GET /api/members/{id}/transfers', target: "the transferee's transfers", expected: [401, 401, 403, 200, 403, 200, 200, 404],
    call: () => ({ method: 'GET', path: `/api/members/${transferee.memberId}/transfers` }) },
  { operation: 'POST /api/transfers/{id}/approve', target: "the transferee's open transfer", expected: [401, 401, 403, 200, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/transfers/${transferee.transferId}/approve` }) },
  { operation: 'POST /api/transfers/{id}/refuse', target: "the transferee's transfer, approved", expected: [401, 401, 403, 409, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/transfers/${transferee.transferId}/refuse`, body: document('transfer-refusals', { reasonCode: 'other' }) }) },
  { operation: 'POST /api/parties/{slug}/transfer-links', target: 'a phone (the answer is the same for any)', expected: [202, 202, 202, 202, 202, 202, 202, 202],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/transfer-links`, body: document('transfer-links', { phone: `98${52_000_000 + ++phone}` }) }) },
  { operation: 'POST /api/parties/{slug}/members/{id}/transfers', target: "the transferee's link (no caller holds it; all guess)", expected: [404, 404, 404, 404, 404, 404, 404, 404],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/members/${transferee.memberId}/transfers?token=1999999999.${'g'.repeat(43)}`,
      body: document('transfers', { toWardId: api.geo.wardIds[0] }) }) },
  // Status changes, on the member awaiting approval (approved above, so awaiting payment): who may is
  // told the member is not active (409) and nothing changes; who may not is refused first.
  { operation: 'POST /api/members/{id}/suspensions', target: 'a member not active', expected: [401, 401, 403, 409, 403, 403, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/suspensions`, body: document('suspensions', { until: new Date(Date.now() + 3_600_000).toISOString(), reasonCode: 'misconduct' }) }) },
  { operation: 'POST /api/members/{id}/suspensions/lift', target: 'a member not suspended', expected: [401, 401, 403, 409, 403, 403, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/suspensions/lift` }) },
  { operation: 'POST /api/members/{id}/expulsion-proposals', target: 'a member not active', expected: [401, 401, 403, 409, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/expulsion-proposals`, body: document('expulsion-proposals', { reasonCode: 'misconduct' }) }) },
  { operation: 'POST /api/members/{id}/expulsion-proposals/confirm', target: 'a member with no proposal', expected: [401, 401, 403, 409, 403, 403, 403, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/expulsion-proposals/confirm` }) },
  { operation: 'POST /api/members/{id}/resignations', target: 'a member not active', expected: [401, 401, 403, 403, 403, 403, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/resignations`, body: document('resignations', { reasonCode: 'personal' }) }) },
  // Starting a renewal is for treasurers and admins, of an active member.
  { operation: 'POST /api/members/{id}/renewals', target: 'a member not active', expected: [401, 401, 403, 403, 403, 409, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/renewals`, body: document('renewals', { termNumber: 1 }) }) },
  { operation: 'POST /api/members/{id}/death', target: 'a member not active', expected: [401, 401, 403, 403, 403, 403, 409, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.awaitingApproval.memberId}/death`, body: document('deaths', { note: 'matrix' }) }) },
  { operation: 'POST /api/parties/{slug}/resignation-links', target: 'an address no member has (the same answer for any)', expected: [202, 202, 202, 202, 202, 202, 202, 202],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/resignation-links`, body: document('resignation-link-requests', { email: 'nobody-matrix@example.np' }) }) },
  { operation: 'POST /api/parties/{slug}/resignations', target: 'the member with a card, a guessed token', expected: [422, 422, 422, 422, 422, 422, 422, 422],
    call: () => ({ method: 'POST', path: `/api/parties/${slug()}/resignations`, body: document('resignations', { member: members.withCard.memberId, expires: new Date(Date.now() + 3_600_000).toISOString(), token: 'g'.repeat(43), reasonCode: 'personal' }) }) },
  { operation: 'GET /api/platform/tenants/{slug}', target: "the party's settings", expected: [401, 401, 401, 401, 401, 401, 401, 401],
    call: () => ({ method: 'GET', path: `/api/platform/tenants/${slug()}` }) },
  // Last: they take access away (from users no caller is) and revoke the card the rows above read.
  { operation: 'POST /api/users/{id}/disable', target: 'a registrar of the party', expected: [401, 401, 403, 403, 403, 403, 200, 404],
    call: () => ({ method: 'POST', path: `/api/users/${targets.disabled}/disable`, body: document('user-disablements', { reason: 'matrix' }) }) },
  { operation: 'POST /api/users/{id}/roles/{role}/revoke', target: "an ops user's role", expected: [401, 401, 403, 403, 403, 403, 200, 404],
    call: () => ({ method: 'POST', path: `/api/users/${targets.demoted}/roles/ops/revoke`, body: document('role-revocations', { reason: 'matrix' }) }) },
  { operation: 'POST /api/committees/{id}/heads/{userId}/end', target: "a district committee's head", expected: [401, 401, 403, 403, 403, 403, 200, 404],
    call: () => ({ method: 'POST', path: `/api/committees/${targets.headship.committeeId}/heads/${targets.headship.headUserId}/end`, body: document('headship-endings', { reason: 'matrix' }) }) },
  { operation: 'POST /api/members/{id}/card/revoke', target: 'the member with a card', expected: [401, 401, 403, 403, 403, 403, 200, 404],
    call: () => ({ method: 'POST', path: `/api/members/${members.withCard.memberId}/card/revoke`, body: document('card-revocations', { reason: 'lost' }) }) },
  // Last: it ends the application the rows above act on. Only the applicant holds its link; others guess a token.
  { operation: 'POST /api/parties/{slug}/applications/{id}/withdraw', target: "the applicant's link (others guess a token)", expected: [404, 200, 404, 404, 404, 404, 404, 404],
    call: (who) => ({ method: 'POST', path: `/api/parties/${slug()}/applications/${members.awaitingApproval.memberId}/withdraw?token=${who.statusToken ?? 'g'.repeat(32)}` }) },
];

const GRAPH_QUERY = `query Matrix($id: ID!, $node: ID!) {
  member(id: $id) { id fullNameEn invoices { id amountMinor } }
  statistics(geography: $node) { total }
  committees(first: 100) { nodes { members(first: 100) { id } } }
}`;

/** What a caller outside the member's area or party must never see, whatever the status. */
function leaks(caller: Caller, res: ApiResponse): string[] {
  if (caller !== 'otherAdmin' && caller !== 'headOutside') return [];
  const text = JSON.stringify(res.body);
  const seen = Object.values(members).map((m) => m.memberId).filter((id) => text.includes(id));
  const counted = res.body?.data?.attributes?.total;
  return [...seen.map((id) => `${caller} saw member ${id}`), ...(caller === 'otherAdmin' && counted ? [`otherAdmin counted ${String(counted)} members`] : [])];
}

test('every documented operation has a row', async () => {
  const documented = (await documentedOperations(api.baseUrl)).map((op) => op.key).sort();
  // An operation may have several rows (statistics now and as of a date); each documented one has at least one, and no row is undocumented.
  expect([...new Set(ROWS.map((row) => row.operation))].sort()).toEqual(documented);
});

test.each(ROWS.map((row) => [`${row.operation} (${row.target})`, row] as const))('%s', async (_name, row) => {
  const statuses: number[] = [];
  const leaked: string[] = [];
  for (const caller of CALLERS) {
    const { method, path, body, headers } = row.call(credentials[caller]);
    const res = await api.request(method, path, { body, headers, ...(credentials[caller].bearer ? { token: credentials[caller].bearer } : {}) });
    statuses.push(res.status);
    leaked.push(...leaks(caller, res));
  }
  observed.push(`${`${row.operation} (${row.target})`.padEnd(100)} ${statuses.join(' ')}`);
  expect(Object.fromEntries(CALLERS.map((caller, i) => [caller, statuses[i]]))).toEqual(Object.fromEntries(CALLERS.map((caller, i) => [caller, row.expected[i]])));
  expect(leaked).toEqual([]);
});

/**
 * How the graph answered one field, in the REST route's terms: 401 unauthenticated, 403 refused
 * (FORBIDDEN on that field), 404 null without an error, 200 an answer.
 */
function graphOutcome(res: ApiResponse, field: string): number {
  if (res.status !== 200) return res.status;
  const errors = (res.body.errors ?? []) as { path?: string[]; extensions?: { code?: string } }[];
  if (errors.some((e) => e.path?.[0] === field && e.extensions?.code === 'FORBIDDEN')) return 403;
  if (errors.length) return 500;
  return res.body.data?.[field] === null ? 404 : 200;
}

test('POST /api/graphql lets each caller read what the REST routes let them read, no more', async () => {
  const id = members.withCard.memberId;
  const node = api.geo.localLevelId;
  const pairs: { rest: string; query: string; field: string; variables: Record<string, string> }[] = [
    { rest: `/api/members/${id}`, query: 'query M($id: ID!) { member(id: $id) { id fullNameEn } }', field: 'member', variables: { id } },
    { rest: '/api/members?filter[status]=active', query: '{ members(filter: { status: active }) { nodes { id } } }', field: 'members', variables: {} },
    { rest: `/api/statistics/geography/${node}`, query: 'query S($id: ID!) { statistics(geography: $id) { total } }', field: 'statistics', variables: { id: node } },
  ];
  const differences: string[] = [];
  for (const pair of pairs) {
    for (const caller of CALLERS) {
      const token = credentials[caller].bearer ? { token: credentials[caller].bearer } : {};
      const rest = await api.request('GET', pair.rest, token);
      const graph = await api.request('POST', '/api/graphql', { ...token, headers: { 'content-type': 'application/json' }, body: { query: pair.query, variables: pair.variables } });
      const outcome = graphOutcome(graph, pair.field);
      if (outcome !== rest.status) differences.push(`${caller} ${pair.field}: REST ${rest.status}, graph ${outcome} ${JSON.stringify(graph.body).slice(0, 200)}`);
      // A list the caller may read holds what REST lists, no more.
      if (pair.field === 'members' && outcome === 200) {
        const restIds = (rest.body.data as { id: string }[]).map((m) => m.id).sort();
        const graphIds = (graph.body.data.members.nodes as { id: string }[]).map((m) => m.id).sort();
        if (JSON.stringify(restIds) !== JSON.stringify(graphIds)) differences.push(`${caller} members: REST ${restIds.length}, graph ${graphIds.length}`);
      }
    }
  }
  expect(differences).toEqual([]);
});

test('the matrix as observed', () => {
  process.stdout.write(`\n${''.padEnd(101)}${CALLERS.join(' ')}\n${observed.join('\n')}\n`);
  expect(observed).toHaveLength(ROWS.length);
});
