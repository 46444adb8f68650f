import { randomUUID } from 'node:crypto';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { readContact } from '../../src/members/member-repository.ts';
import { recountStatistics, readStatistics } from '../../src/statistics/member-statistics.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import { transferLinkToken } from '../../src/transfers/transfer-link.ts';
import type { TransferOutcome } from '../../src/transfers/transfer-contract.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { addCommitteeWithHead, applicationFor, asTest, awaitInvoice, lifecycleHandle, memberEvents, paymentFor } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let registrar: string;
let originHead: string;
let destinationHead: string;
let origin: string;
let destination: string;

const document = (type: string, attributes: Record<string, unknown>) => ({ data: { type, attributes } });

/** An active member holding a card, in the origin ward (the harness's second). */
async function activeMember(email = `${randomUUID()}@example.np`) {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, email));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  await sendLifecycleUpdate(api.client, member.workflowId, paymentReceivedUpdate, paymentFor(await awaitInvoice(lifecycleHandle(api, member.workflowId))));
  await lifecycleHandle(api, member.workflowId).result();
  return { ...member, email };
}

const window = (ms: number) => changeTenantSettings(api.db.owner, api.tenant.slug, { transferWindowMs: ms }, 'test');
const request = (memberId: string, toWardId = destination, token = registrar) =>
  api.request('POST', `/api/members/${memberId}/transfers`, { token, body: document('transfers', { toWardId }) });
const outcome = (workflowId: string) => api.client.workflow.getHandle(workflowId).result() as Promise<TransferOutcome>;
const workflowOf = async (transferId: string) =>
  asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ w: z.string() }))`SELECT workflow_id AS w FROM member_transfers WHERE id = ${transferId}`));

const Row = z.object({ wardId: z.string(), memberNumber: z.string().nullable(), committeeId: z.string().nullable() });
const memberRow = (id: string) => asTest(api, (tx) => tx.one(sql.type(Row)`
  SELECT ward_id AS "wardId", member_number AS "memberNumber", committee_id AS "committeeId" FROM members WHERE id = ${id}`));
const Card = z.object({ revokedAt: z.number().nullable(), reason: z.string().nullable(), storageKey: z.string() });
const cards = (id: string) => asTest(api, (tx) => tx.any(sql.type(Card)`
  SELECT revoked_at AS "revokedAt", revocation_reason AS reason, storage_key AS "storageKey" FROM id_cards WHERE member_id = ${id} ORDER BY issued_at`));

async function pdfText(bytes: Uint8Array): Promise<string> {
  const doc = await getDocument({ data: bytes.slice(), disableFontFace: true }).promise;
  const content = await (await doc.getPage(1)).getTextContent();
  return content.items.map((item) => ('str' in item ? item.str : '')).join('\n');
}

/** The statistics read model equals a full recount (nothing to correct). */
const recountCorrects = () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'test' }, (tx) => recountStatistics(tx, api.tenant.id));
const activeIn = async (wardId: string) => (await asTest(api, (tx) => readStatistics(tx, wardId))).byStatus.active;

beforeAll(async () => {
  api = await startApiHarness();
  [, origin, destination] = api.geo.wardIds as [string, string, string];
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  const o = await addCommitteeWithHead(api, origin, 'Ward 2 Committee', 'origin-head@party.test');
  const d = await addCommitteeWithHead(api, destination, 'Ward 3 Committee', 'destination-head@party.test');
  originHead = await api.tokenFor(o.headUserId);
  destinationHead = await api.tokenFor(d.headUserId);
  await window(3_600_000);
}, 120_000);
afterAll(() => api.stop());

test('approved by a head covering the destination: the member moves at once, keeps the number, gets a new card naming the new ward', async () => {
  const member = await activeMember();
  const before = await memberRow(member.memberId);
  const [originBefore, destinationBefore] = [await activeIn(origin), await activeIn(destination)];
  const requested = await request(member.memberId);
  expect(requested.status).toBe(201);
  expect(requested.body.data.attributes).toMatchObject({ status: 'requested', fromWardId: origin, toWardId: destination, requestedVia: 'staff', seq: 1 });
  const transferId = requested.body.data.id as string;

  // The origin committee's head is told; the destination's head is asked.
  await api.smtp.waitFor((mail) => mail.subject?.includes('asked to transfer') === true && JSON.stringify(mail.to).includes('origin-head@party.test'));
  await api.smtp.waitFor((mail) => mail.subject?.includes('awaits a decision') === true && JSON.stringify(mail.to).includes('destination-head@party.test'));

  // A head covering only the origin may not decide.
  expect((await api.request('POST', `/api/transfers/${transferId}/approve`, { token: originHead })).status).toBe(403);
  // One open transfer per member.
  const again = await request(member.memberId, api.geo.wardIds[0]);
  expect([again.status, again.body.errors[0].code]).toEqual([409, 'TRANSFER_ALREADY_OPEN']);

  const approved = await api.request('POST', `/api/transfers/${transferId}/approve`, { token: destinationHead });
  expect(approved.status).toBe(200);
  expect(approved.body.data.attributes).toMatchObject({ status: 'accepted', acceptedBy: expect.stringMatching(/^user:/) });

  // At once: the ward, statistics equal to a recount, search under the new ward.
  const after = await memberRow(member.memberId);
  expect(after.wardId).toBe(destination);
  expect(after.memberNumber).toBe(before.memberNumber);
  expect(after.committeeId).not.toBe(before.committeeId);
  expect([await activeIn(origin), await activeIn(destination)]).toEqual([originBefore - 1, destinationBefore + 1]);
  expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  const found = await api.request('GET', `/api/members?filter[geography]=${destination}&filter[status]=active`, { token: registrar });
  expect(found.body.data.map((m: { id: string }) => m.id)).toContain(member.memberId);
  const left = await api.request('GET', `/api/members?filter[geography]=${origin}&filter[status]=active`, { token: registrar });
  expect(left.body.data.map((m: { id: string }) => m.id)).not.toContain(member.memberId);

  // A second decision is refused.
  expect((await api.request('POST', `/api/transfers/${transferId}/refuse`, { token: destinationHead, body: document('transfer-refusals', { reasonCode: 'other' }) })).status).toBe(409);

  expect(await outcome(await workflowOf(transferId))).toEqual({ status: 'accepted' });
  const held = await cards(member.memberId);
  expect(held.map((c) => [c.revokedAt !== null, c.reason])).toEqual([[true, 'superseded'], [false, null]]);
  const pdf = await fetch(`${api.baseUrl}/api/members/${member.memberId}/card`, { headers: { authorization: `Bearer ${registrar}` } });
  const text = await pdfText(new Uint8Array(await pdf.arrayBuffer()));
  expect(text).toContain('Test Municipality Ward 3');
  expect(text).not.toContain('Test Municipality Ward 2');
  const [mail] = await api.smtp.waitFor((m) => m.subject?.includes('is now in Test Municipality Ward 3') === true && JSON.stringify(m.to).includes(member.email));
  expect(mail?.attachments.map((a) => a.contentType)).toEqual(['application/pdf']);

  const types = (await memberEvents(api, member.memberId)).map((e) => e.type);
  expect(types.slice(-4)).toEqual(['MemberTransferRequested', 'IdCardRevoked', 'MemberTransferred', 'IdCardIssued']);
  const audited = await asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM audit_log WHERE table_name = 'members' AND record_id = ${member.memberId}::text AND new_row->>'ward_id' = ${destination}`));
  expect(audited).toBeGreaterThanOrEqual(1);

  const listed = await api.request('GET', `/api/members/${member.memberId}/transfers`, { token: registrar });
  expect(listed.body.data.map((t: { attributes: { status: string } }) => t.attributes.status)).toEqual(['accepted']);
}, 120_000);

test('refused by a head covering the destination: the member stays, with their card, and is told', async () => {
  const member = await activeMember();
  const requested = await request(member.memberId);
  const transferId = requested.body.data.id as string;
  // Waiting in the destination head's inbox, named, with the member; not in the origin head's, whose area it leaves.
  const waiting = async (token: string) => {
    const res = await api.request('GET', '/api/transfers?filter[status]=requested&include=member&page[size]=100', { token });
    expect(res.status).toBe(200);
    return res.body as { data: { id: string; attributes: Record<string, unknown> }[]; included: { id: string; attributes: Record<string, unknown> }[] };
  };
  const inbox = await waiting(destinationHead);
  expect(inbox.data.find((t) => t.id === transferId)?.attributes).toMatchObject({
    memberId: member.memberId, status: 'requested', toWardName: { en: expect.stringMatching(/^Ward 3, /) }, fromWardName: { en: expect.stringMatching(/^Ward 2, /) },
  });
  expect(inbox.included.find((m) => m.id === member.memberId)?.attributes).toMatchObject({ fullNameEn: expect.any(String), statusDetail: 'active' });
  expect((await waiting(originHead)).data.map((t) => t.id)).not.toContain(transferId);
  expect((await waiting(registrar)).data.map((t) => t.id)).toContain(transferId);
  const refused = await api.request('POST', `/api/transfers/${transferId}/refuse`, { token: destinationHead, body: document('transfer-refusals', { reasonCode: 'not_resident' }) });
  expect(refused.status).toBe(200);
  expect(refused.body.data.attributes).toMatchObject({ status: 'refused', refusalReason: 'not_resident', acceptedBy: null });
  expect(await outcome(await workflowOf(transferId))).toEqual({ status: 'refused' });
  expect((await memberRow(member.memberId)).wardId).toBe(origin);
  expect((await cards(member.memberId)).map((c) => c.revokedAt)).toEqual([null]);
  expect((await waiting(destinationHead)).data.map((t) => t.id)).not.toContain(transferId);
  await api.smtp.waitFor((m) => m.subject?.includes('was not approved') === true && JSON.stringify(m.to).includes(member.email));
  expect((await memberEvents(api, member.memberId)).at(-1)?.type).toBe('MemberTransferRefused');
  expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  // Refused, it is closed: a new request may follow.
  expect((await request(member.memberId)).status).toBe(201);
}, 120_000);

test('transfers page oldest request first, each page after the last; a member with no role or headship may not list them', async () => {
  const requested: string[] = [];
  for (let i = 0; i < 3; i += 1) requested.push((await request((await activeMember()).memberId)).body.data.id as string);
  const seen: { id: string; requestedAt: string }[] = [];
  let next: string | null = '/api/transfers?filter[status]=requested&page[size]=2';
  while (next) {
    const page: { status: number; body: { data: { id: string; attributes: { requestedAt: string; status: string } }[]; links: { next: string | null } } } = await api.request('GET', next, { token: destinationHead });
    expect(page.status).toBe(200);
    expect(page.body.data.every((t) => t.attributes.status === 'requested')).toBe(true);
    seen.push(...page.body.data.map((t) => ({ id: t.id, requestedAt: t.attributes.requestedAt })));
    next = page.body.links.next;
  }
  expect(seen.map((t) => t.id).filter((id) => requested.includes(id))).toEqual(requested);
  expect(seen.map((t) => t.requestedAt)).toEqual([...seen.map((t) => t.requestedAt)].sort());
  expect(new Set(seen.map((t) => t.id)).size).toBe(seen.length);
  const nobody = await api.userWithToken({ roles: [] });
  expect((await api.request('GET', '/api/transfers', { token: nobody.token })).status).toBe(403);
}, 180_000);

test('nobody refusing within the party\'s transfer window accepts the transfer by itself', async () => {
  await window(3_000);
  const member = await activeMember();
  const requested = await request(member.memberId);
  await window(3_600_000);
  expect(requested.status).toBe(201);
  const started = Date.now();
  expect(await outcome(await workflowOf(requested.body.data.id))).toEqual({ status: 'accepted' });
  expect(Date.now() - started).toBeGreaterThan(1_000);
  const listed = await api.request('GET', `/api/members/${member.memberId}/transfers`, { token: registrar });
  expect(listed.body.data[0].attributes).toMatchObject({ status: 'accepted', acceptedBy: 'window' });
  expect((await memberRow(member.memberId)).wardId).toBe(destination);
  expect((await cards(member.memberId)).map((c) => c.reason)).toEqual(['superseded', null]);
  expect(await recountCorrects()).toEqual({ correctedRows: 0 });
}, 120_000);

test('only an active member, to a valid other ward, on a staff request or through the member\'s own link', async () => {
  const pending = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  const notActive = await request(pending.memberId);
  expect([notActive.status, notActive.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);
  const member = await activeMember();
  const unknown = await request(member.memberId, randomUUID());
  expect([unknown.status, unknown.body.errors[0].code, unknown.body.errors[0].source]).toEqual([422, 'UNKNOWN_WARD', { pointer: '/data/attributes/toWardId' }]);
  const notAWard = await request(member.memberId, api.geo.localLevelId);
  expect(notAWard.body.errors[0].code).toBe('UNKNOWN_WARD');
  const same = await request(member.memberId, origin);
  expect([same.status, same.body.errors[0].code]).toEqual([422, 'TRANSFER_SAME_WARD']);
  expect((await request(member.memberId, destination, (await api.userWithToken({ roles: ['treasurer'] })).token)).status).toBe(403);
  expect((await asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM member_transfers WHERE member_id = ${member.memberId}`)))).toBe(0);

  // The member asks for their link by phone; it comes to their email, and works once for a request.
  const phone = applicationFor(api, 'x@example.np').phone; // a phone nobody holds: answered the same
  const asked = await api.request('POST', `/api/parties/${api.tenant.slug}/transfer-links`, { body: document('transfer-links', { phone }) });
  expect(asked.status).toBe(202);
  const holderPhone = await asTest(api, async (tx) => readContact(tx, await api.keyring.forTenant(tx, api.tenant.id), member.memberId));
  expect((await api.request('POST', `/api/parties/${api.tenant.slug}/transfer-links`, { body: document('transfer-links', { phone: holderPhone.phone }) })).status).toBe(202);
  const [mail] = await api.smtp.waitFor((m) => m.subject?.includes('link to transfer') === true && JSON.stringify(m.to).includes(member.email));
  const link = /https:\/\/members\.test(\/api\/parties\/[^\s]+)/.exec(mail?.text ?? '')?.[1];
  expect(link).toBeDefined();
  const wrong = await api.request('POST', link!.replace(/token=\d+\./, 'token=1999999999.'), { body: document('transfers', { toWardId: destination }) });
  expect(wrong.status).toBe(404);
  const keys = await asTest(api, (tx) => api.keyring.forTenant(tx, api.tenant.id));
  const expired = transferLinkToken(keys, member.memberId, new Date(Date.now() - 1_000));
  expect((await api.request('POST', `/api/parties/${api.tenant.slug}/members/${member.memberId}/transfers?token=${expired}`, { body: document('transfers', { toWardId: destination }) })).status).toBe(404);
  const byLink = await api.request('POST', link!, { body: document('transfers', { toWardId: destination }) });
  expect(byLink.status).toBe(201);
  expect(byLink.body.data.attributes).toMatchObject({ requestedVia: 'link', status: 'requested' });
  // Another member's id under this link's token is not found.
  const other = await activeMember();
  const token = new URL(`https://x${link!}`).searchParams.get('token')!;
  expect((await api.request('POST', `/api/parties/${api.tenant.slug}/members/${other.memberId}/transfers?token=${token}`, { body: document('transfers', { toWardId: destination }) })).status).toBe(404);
}, 180_000);

test('two requests for one member at the same moment: one transfer, the other 409', async () => {
  const member = await activeMember();
  const answers = await Promise.all([request(member.memberId), request(member.memberId, api.geo.wardIds[0])]);
  expect(answers.map((a) => [a.status, a.body.errors?.[0]?.code ?? null]).sort()).toEqual([[201, null], [409, 'TRANSFER_ALREADY_OPEN']]);
  expect(answers.find((a) => a.status === 409)?.body.errors[0].code).toBe('TRANSFER_ALREADY_OPEN');
  const listed = await api.request('GET', `/api/members/${member.memberId}/transfers`, { token: registrar });
  expect(listed.body.data).toHaveLength(1);
  // Visibility lags a little behind a start: ask until the one transfer workflow shows.
  let ids: string[] = [];
  for (let i = 0; i < 50 && ids.length === 0; i++) {
    ids = [];
    for await (const execution of api.client.workflow.list({ query: `MemberId = '${member.memberId}' AND WorkflowType = 'memberTransfer'` })) ids.push(execution.workflowId);
    if (ids.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(ids).toEqual([`transfer-${api.tenant.id}-${member.memberId}-1`]);
}, 120_000);
