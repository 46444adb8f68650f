import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { enterTenant, withTenant } from '../../src/db/tenant-context.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeCommittee, makeTenant } from '../support/fixtures.ts';
import { makeWebhookSecret } from '../support/webhooks.ts';
import { resignationToken } from '../../src/members/resignation-link.ts';
import { snapshotChanges, snapshotDatabase, type Snapshot } from './support/db-snapshot.ts';
import { ID_PROBES, takesAnId, type ProbeCall, type ProbeSetting } from './support/id-probes.ts';
import { documentedOperations } from './support/openapi-operations.ts';
import { seedMembers, settled, terminateLifecycles, userOf, type PartyMembers } from './support/party-fixtures.ts';
import { idsOfTenant, tenantRelations, type TenantRelation } from './support/tenant-tables.ts';
import { refuseTransferUpdate } from '../../src/transfers/transfer-contract.ts';
import { requestTransfer, sendTransferDecision } from '../../src/transfers/transfer-client.ts';
import { startRenewal } from '../../src/renewals/renewal-client.ts';
import { RENEWAL_RUN_WORKFLOW } from '../../src/renewals/renewal-contract.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { transferLinkToken } from '../../src/transfers/transfer-link.ts';
import { startStatusChange } from '../../src/members/status-change-client.ts';
import { setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { insertAttempt } from '../../src/payments/payment-attempts.ts';
import { paymentWorkflowId } from '../../src/payments/payment-verification-contract.ts';
import { addReconciliationItem } from '../../src/payments/reconciliation.ts';

let api: ApiHarness & { stop(): Promise<void> };
let partyB: Tenant;
let a: PartyMembers;
let b: PartyMembers;
let callers: Record<'B admin' | 'B head', string>;
let idsOfA: string[];
let probingA: ProbeSetting;
let before: Snapshot;
let relations: TenantRelation[];
let committeeOfB: string;
/** B's decided transfer: deciding it again is refused (409), not unknown. */
let decidedTransferOfB: string;
/** B's item in the reconciliation queue, open. */
let reconciliationItemOfB: string;
/** The invoice of A's renewal waiting for payment. */
let renewalInvoiceOfA: string | null;

/** A transfer of the member to the harness's third ward, as staff ask it. */
const transfer = (tenantId: string, memberId: string) =>
  requestTransfer({ client: api.client, pool: api.db.app }, { tenantId, actor: 'fixture' }, { memberId, toWardId: api.geo.wardIds[2]!, via: 'staff', requestedBy: 'fixture' });
/** Transfer-link secrets a party made for its members, valid for a day. */
const transferTokens = async (tenant: Tenant, members: PartyMembers) => {
  const keys = await withTenant(api.db.app, { tenantId: tenant.id, actor: 'fixture' }, (tx) => api.keyring.forTenant(tx, tenant.id));
  return new Map(Object.values(members).map((m) => [m.memberId, transferLinkToken(keys, m.memberId, new Date(Date.now() + 86_400_000))]));
};
let treasurerOfB: string;
/** Each party's open eSewa attempt, by party id. */
let openAttemptOf: Record<string, string>;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const statusTokens = (members: PartyMembers) => new Map(Object.values(members).map((m) => [m.memberId, m.statusToken]));
const sameSnapshot = (x: Snapshot, y: Snapshot) => snapshotChanges(x, y).length === 0;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  partyB = await makeTenant(api.db.app, api.keyring, `party-b-${randomBytes(3).toString('hex')}`, 'PB');
  // B's committee covers the very wards A's members live in: only the party tells them apart.
  committeeOfB = await makeCommittee(api.db.app, partyB.id, api.geo.localLevelId, 'B Committee');
  a = await seedMembers(api, api.tenant);
  b = await seedMembers(api, partyB);
  callers = { 'B admin': (await userOf(api, partyB, { roles: ['tenant_admin'] })).token, 'B head': (await userOf(api, partyB, { headOf: [committeeOfB] })).token };
  treasurerOfB = (await userOf(api, partyB, { roles: ['treasurer'] })).token;
  await api.userWithToken({ roles: ['tenant_admin'] });
  await api.webhookSecret('esewa');
  const webhookSecretOfB = await makeWebhookSecret(api.db.app, api.keyring, partyB.id, 'esewa');
  // A has a transfer waiting; B one refused and one waiting, so B's own requests about them are refused as decided or open.
  await transfer(api.tenant.id, a.withCard.memberId);
  const first = (await transfer(partyB.id, b.withCard.memberId))!;
  await sendTransferDecision(api.client, first.workflowId, refuseTransferUpdate, { by: 'fixture', reasonCode: 'other' });
  decidedTransferOfB = first.id;
  await transfer(partyB.id, b.withCard.memberId);
  // Each party has an eSewa attempt open on its member awaiting payment (no gateway is asked: the rows alone).
  openAttemptOf = {};
  for (const [tenant, members] of [[api.tenant, a], [partyB, b]] as const) {
    await withTenant(api.db.app, { tenantId: tenant.id, actor: 'fixture' }, async (tx) => {
      await setGatewayAccount(tx, api.keyring, tenant.id, { gateway: 'esewa', environment: 'simulator', baseUrl: 'http://127.0.0.1:9/esewa/', merchantCode: 'EPAYTEST', secret: 'not-a-real-secret' });
      const attemptId = randomUUID();
      const invoice = members.awaitingPayment.invoice;
      await insertAttempt(tx, { id: attemptId, tenantId: tenant.id, memberId: members.awaitingPayment.memberId, invoiceId: invoice.invoiceId, gateway: 'esewa',
        amountMinor: invoice.amountMinor, currency: invoice.currency, reference: attemptId, workflowId: paymentWorkflowId(tenant.id, attemptId), expiresAt: new Date(Date.now() + 3_600_000) });
      openAttemptOf[tenant.id] = attemptId;
    });
  }
  // Each party has an expulsion proposed by its own committee, waiting for confirmation.
  const propose = (tenantId: string, memberId: string, committeeId: string) => startStatusChange({ client: api.client, pool: api.db.app },
    { tenantId, actor: 'fixture' }, memberId, { kind: 'expulsion', by: 'fixture', reasonCode: 'misconduct', committeeId, note: null });
  await propose(api.tenant.id, a.withCard.memberId, api.committeeId);
  await propose(partyB.id, b.withCard.memberId, committeeOfB);
  // A's member has a renewal waiting for payment (member_renewals, a renewal invoice naming its workflow), and a daily run
  // is recorded for each party (renewal_runs): their ids are probed like the rest.
  await startRenewal(api.client, api.tenant.id, a.withCard.memberId, 1, 'fixture');
  await (await api.client.workflow.start(RENEWAL_RUN_WORKFLOW, { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: `renewal-run-${randomUUID()}`, args: [] })).result();
  renewalInvoiceOfA = await settled(() => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'fixture' }, (tx) =>
    tx.maybeOneFirst(sql.type(z.object({ id: z.string().nullable() }))`SELECT invoice_id AS id FROM member_renewals WHERE member_id = ${a.withCard.memberId}`)),
  (x, y) => x !== null && x === y);
  // Each party has a payment waiting in its reconciliation queue.
  const queue = (tenantId: string, memberId: string) => withTenant(api.db.app, { tenantId, actor: 'fixture' }, (tx) => addReconciliationItem(tx, {
    tenantId, gateway: 'esewa', reference: randomUUID(), attemptId: null, memberId, amountMinor: 100, currency: 'NPR', reason: 'amount_mismatch', detail: 'probe' }));
  await queue(api.tenant.id, a.awaitingPayment.memberId);
  reconciliationItemOfB = (await queue(partyB.id, b.awaitingPayment.memberId)).id;
  idsOfA = await idsOfTenant(api.db.owner, api.tenant.id);
  const keysOfB = await withTenant(api.db.app, { tenantId: partyB.id, actor: 'probe' }, (tx) => api.keyring.forTenant(tx, partyB.id));
  probingA = { ownSlug: partyB.slug, invoice: a.awaitingPayment.invoice, statusTokens: statusTokens(a), webhookSecret: webhookSecretOfB,
    wardId: api.geo.wardIds[2]!, transferTokens: await transferTokens(api.tenant, a),
    resignationToken: (memberId, expires) => resignationToken(keysOfB, partyB.id, memberId, expires) };
  relations = await tenantRelations(api.db.owner);
  before = await settled(() => snapshotDatabase(api.db.owner), sameSnapshot);
}, 240_000);
afterAll(async () => {
  await terminateLifecycles(api, partyB.id);
  await api.stop();
});

const STATUS_CHANGES = /suspensions|expulsion-proposals|resignations|death/;
const ask = (call: ProbeCall, token: string) => api.request(call.method, call.path, { token, body: call.body, headers: call.headers, ...(call.raw ? { raw: call.raw } : {}) });
const idsOfAIn = (res: ApiResponse) => [...JSON.stringify(res.body ?? '').matchAll(UUID)].map((m) => m[0].toLowerCase()).filter((id) => idsOfA.includes(id));

test('every documented operation that takes an id is probed, with every id party A holds', async () => {
  const operations = (await documentedOperations(api.baseUrl)).filter(takesAnId).map((op) => op.key);
  expect(Object.keys(ID_PROBES).sort()).toEqual(operations.sort());
  expect(idsOfA).toEqual(expect.arrayContaining([...Object.values(a).map((m) => m.memberId), a.withCard.invoice.invoiceId, a.withCard.cardTokenId, api.committeeId, api.headUserId, renewalInvoiceOfA,
    openAttemptOf[api.tenant.id]]));
});

test.each(['B admin', 'B head'] as const)("%s asking for any id of party A gets 404, as for an id no party has, and none of A's data", async (caller) => {
  const surprises: string[] = [];
  for (const [operation, probe] of Object.entries(ID_PROBES)) {
    const nowhere = await ask(probe(randomUUID(), probingA), callers[caller]);
    // A caller without the operation's role is refused before any lookup: the same answer for every id, so it tells nothing.
    const refusedForAnyId = caller === 'B head' && nowhere.status === 403;
    // The graph answers 200 to every request it authenticates: an unknown id is a null field in it.
    const graphNotFound = operation === 'POST /api/graphql' && nowhere.status === 200
      && JSON.stringify(nowhere.body) === JSON.stringify({ data: { member: null, invoice: null, committee: null, statistics: null } });
    if (nowhere.status !== 404 && !refusedForAnyId && !graphNotFound) surprises.push(`${operation} with an unknown id: ${nowhere.status} ${JSON.stringify(nowhere.body).slice(0, 200)}`);
    for (const id of idsOfA) {
      const res = await ask(probe(id, probingA), callers[caller]);
      if (res.status !== nowhere.status || res.body?.errors?.[0]?.code !== nowhere.body?.errors?.[0]?.code) surprises.push(`${operation} ${id}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      // The graph answers 200 either way: the whole answer must be the one for an id no party has.
      if (operation === 'POST /api/graphql' && JSON.stringify(res.body) !== JSON.stringify(nowhere.body)) surprises.push(`${operation} ${id}: ${JSON.stringify(res.body).slice(0, 200)}`);
      surprises.push(...idsOfAIn(res).map((seen) => `${operation} ${id}: the answer holds ${seen}`));
    }
  }
  expect(surprises).toEqual([]);
}, 600_000);

test("the same requests about party B's own ids find them (the probe is not vacuous)", async () => {
  const own: ProbeSetting = { ...probingA, invoice: b.withCard.invoice, statusTokens: statusTokens(b), transferTokens: await transferTokens(partyB, b) };
  const found: Record<string, number> = {};
  for (const [operation, probe] of Object.entries(ID_PROBES)) {
    // Status changes act on B's rejected member: found, and refused as not active, so nothing changes.
    const id = operation.includes('geography') ? api.geo.localLevelId : operation.includes('/payments/attempts/') ? openAttemptOf[partyB.id]!
      : operation.includes('/api/transfers/') ? decidedTransferOfB
      : operation.includes('/api/payment-reconciliation/') ? reconciliationItemOfB
      : operation.includes('/api/invoices/') ? b.withCard.invoice.invoiceId
      : STATUS_CHANGES.test(operation) ? b.rejected.memberId : b.withCard.memberId;
    const res = await ask(probe(id, own), callers['B head']);
    // The graph answers 200 for any id: found means the member is in the answer.
    found[operation] = operation === 'POST /api/graphql' && res.body?.data?.member?.id !== id ? 404 : res.status;
  }
  expect(Object.entries(found).filter(([, status]) => status === 404)).toEqual([]);
});

test("searching by party A's committee finds nothing for B; by B's own, B's members; a plain search, none of A's", async () => {
  const search = (query: string) => api.request('GET', `/api/members?page[size]=100&${query}`, { token: callers['B admin'] });
  const foreign = await search(`filter[committee]=${api.committeeId}`);
  expect([foreign.status, foreign.body.data]).toEqual([200, []]);
  const own = await search(`filter[committee]=${committeeOfB}`);
  expect(own.body.data.map((m: { id: string }) => m.id).sort()).toEqual(Object.values(b).map((m) => m.memberId).sort());
  expect(idsOfAIn(await search(''))).toEqual([]);
});

test("B's lists of what waits for a decision (transfers, expulsion proposals) hold B's and none of A's", async () => {
  for (const caller of ['B admin', 'B head'] as const) {
    const transfers = await api.request('GET', '/api/transfers?filter[status]=requested&include=member&page[size]=100', { token: callers[caller] });
    expect([transfers.status, transfers.body.data.map((t: { attributes: { memberId: string } }) => t.attributes.memberId)]).toEqual([200, [b.withCard.memberId]]);
    expect(idsOfAIn(transfers)).toEqual([]);
  }
  // B's proposal came from B's own committee, which no committee is above: only B's admin sees it waiting.
  const proposals = await api.request('GET', '/api/expulsion-proposals?include=member&page[size]=100', { token: callers['B admin'] });
  expect([proposals.status, proposals.body.data.map((p: { id: string }) => p.id)]).toEqual([200, [b.withCard.memberId]]);
  expect(idsOfAIn(proposals)).toEqual([]);
  const forHead = await api.request('GET', '/api/expulsion-proposals?include=member&page[size]=100', { token: callers['B head'] });
  expect([forHead.status, forHead.body.data, idsOfAIn(forHead)]).toEqual([200, [], []]);
});

const because = (type: string) => ({ data: { type, attributes: { reason: 'probe' } } });

test("B's admin cannot end A's headship or touch A's head by naming B's own committee, nor revoke A's card by its member", async () => {
  const answers = await Promise.all([
    ask({ method: 'POST', path: `/api/committees/${committeeOfB}/heads/${api.headUserId}/end`, body: because('headship-endings') }, callers['B admin']),
    ask({ method: 'POST', path: `/api/committees/${api.committeeId}/heads/${api.headUserId}/end`, body: because('headship-endings') }, callers['B admin']),
    ask({ method: 'POST', path: `/api/users/${api.headUserId}/disable`, body: because('user-disablements') }, callers['B admin']),
    ask({ method: 'POST', path: `/api/members/${a.withCard.memberId}/card/revoke`, body: { data: { type: 'card-revocations', attributes: { reason: 'stolen' } } } }, callers['B admin']),
  ]);
  expect(answers.map((res) => [res.status, res.body?.errors?.[0]?.code])).toEqual([[404, 'USER_NOT_FOUND'], [404, 'COMMITTEE_NOT_FOUND'], [404, 'USER_NOT_FOUND'], [404, 'NOT_FOUND']]);
  const card = await api.request('GET', `/api/cards/verify?token=${a.withCard.cardToken}`);
  expect(card.body.data.attributes).toMatchObject({ valid: true, reason: null });
});

test("dues figures: B's treasurer and B's head see B's payments only, though A's members pay in the same wards", async () => {
  const today = dateIn(partyB.timeZone, new Date());
  const range = `from=${addDays(today, -30)}&to=${addDays(today, 1)}`;
  const whole = await api.request('GET', `/api/finance/dues?${range}`, { token: treasurerOfB });
  const area = await api.request('GET', `/api/finance/dues?geography=${api.geo.localLevelId}&${range}`, { token: callers['B head'] });
  const paidBy = async (tenantId: string) => withTenant(api.db.app, { tenantId, actor: 'probe' }, (tx) =>
    tx.one(sql.type(z.object({ amount: z.number(), n: z.number() }))`SELECT coalesce(sum(amount_minor), 0)::float8 AS amount, count(*)::int AS n FROM payments`));
  const [paidByA, paidByB] = [await paidBy(api.tenant.id), await paidBy(partyB.id)];
  expect([paidByA.n > 0, paidByB.n > 0]).toEqual([true, true]);
  expect([whole.status, whole.body.meta.totalMinor.NPR]).toEqual([200, paidByB.amount]);
  // Every payment of B has one local-level allocation, in the head's area.
  const localLevel = area.body.data.filter((f: { attributes: { level: string } }) => f.attributes.level === 'local_level');
  expect([area.status, localLevel.reduce((n: number, f: { attributes: { allocations: number } }) => n + f.attributes.allocations, 0)]).toEqual([200, paidByB.n]);
  expect([...idsOfAIn(whole), ...idsOfAIn(area)]).toEqual([]);
});

test('no probe changed a row of either party', async () => {
  expect(snapshotChanges(before, await snapshotDatabase(api.db.owner))).toEqual([]);
});

const Count = z.object({ n: z.number() });
const rowsOf = (db: CommonQueryMethods, name: string) => db.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM ${sql.identifier([name])}`);
/** The application role with no tenant set: 0 rows, or a refusal where it has no grant at all. */
const rowsWithoutTenant = (name: string) => rowsOf(api.db.app, name).catch((err: unknown) => {
  if (/permission denied/.test(`${String(err)} ${String((err as { cause?: unknown }).cause)}`)) return 'denied' as const;
  throw err;
});

test('as the application role with no tenant set, every table and view with a tenant_id answers no rows', async () => {
  expect(relations.map((r) => r.name)).toEqual(expect.arrayContaining(['members', 'invoices', 'payments', 'id_cards', 'event_store', 'audit_log', 'users']));
  const answers = Object.fromEntries(await Promise.all(relations.map(async (r) => [r.name, await rowsWithoutTenant(r.name)] as const)));
  expect(answers).toEqual(Object.fromEntries(relations.map((r) => [r.name, r.readable ? 0 : 'denied'])));
  expect(relations.filter((r) => r.kind === 'table' && r.readable && !r.isolated).map((r) => r.name)).toEqual([]);
});

test("inside party A's transaction the same queries return A's rows and only A's", async () => {
  const readable = relations.filter((r) => r.readable).map((r) => r.name);
  const counts = await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'probe' }, async (tx) => {
    const found: Record<string, { rows: number; foreign: number }> = {};
    for (const name of readable) {
      found[name] = { rows: await rowsOf(tx, name), foreign: await tx.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM ${sql.identifier([name])} WHERE tenant_id <> ${api.tenant.id}`) };
    }
    return found;
  });
  expect(Object.entries(counts).filter(([, c]) => c.foreign > 0)).toEqual([]);
  const withRows = Object.entries(counts).filter(([, c]) => c.rows > 0).map(([name]) => name);
  expect(withRows).toEqual(expect.arrayContaining(['members', 'invoices', 'payments', 'id_cards', 'event_store', 'audit_log', 'users', 'user_roles',
    'committees', 'committee_roles', 'tenant_keys', 'mail_deliveries', 'member_statistics', 'payment_webhook_secrets', 'member_transfers',
    'member_terms', 'dues_allocations', 'dues_daily', 'member_status_changes', 'member_status_daily', 'member_renewals', 'renewal_runs']));
});

test("a connection that ran party A's transaction sees nothing once it ends", async () => {
  await api.db.app.connect(async (connection) => {
    const inside = await connection.transaction(async (tx) => {
      await enterTenant(tx, { tenantId: api.tenant.id, actor: 'probe' });
      return rowsOf(tx, 'members');
    });
    expect([inside > 0, await rowsOf(connection, 'members')]).toEqual([true, 0]);
  });
});
