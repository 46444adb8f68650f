/**
 * Status changes after admission, over HTTP against a real worker, Temporal dev server,
 * Postgres and SMTP (docs/membership.md, "Status changes"): a suspension that ends by itself,
 * one lifted early, an expulsion that needs two heads, a resignation by signed link and by
 * staff, a death. Each revokes the card naming why, emails the member, leaves its event and an
 * audit row naming who, and the statistics equal a recount.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { signCardToken } from '../../src/cards/card-token.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { resignationToken } from '../../src/members/resignation-link.ts';
import { recountStatistics } from '../../src/statistics/member-statistics.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { addCommitteeWithHead, applicationFor, asTest, awaitInvoice, lifecycleHandle, memberEvents, paymentFor, recipientsOf } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let admin: { userId: string; token: string };
let registrar: { userId: string; token: string };
/** Head of the municipality committee (the harness's), which covers the members' ward. */
let head: { userId: string; token: string };
/** Head of the members' ward committee: covers the ward, but below the proposer's committee, not its parent. */
let wardHead: { userId: string; token: string };
/** Head of the district committee: the municipality committee's parent. */
let districtHead: { userId: string; token: string };

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  admin = await api.userWithToken({ roles: ['tenant_admin'] });
  registrar = await api.userWithToken({ roles: ['registrar'] });
  head = { userId: api.headUserId, token: await api.tokenFor(api.headUserId) };
  const ward = await addCommitteeWithHead(api, api.geo.wardIds[1]!, 'Ward Committee', 'ward-head@party.test');
  wardHead = { userId: ward.headUserId, token: await api.tokenFor(ward.headUserId) };
  const district = await addCommitteeWithHead(api, api.geo.districtId, 'District Committee', 'district-head@party.test');
  districtHead = { userId: district.headUserId, token: await api.tokenFor(district.headUserId) };
}, 180_000);
afterAll(() => api.stop());

const document = (type: string, attributes: Record<string, unknown> = {}) => ({ data: { type, attributes } });
const CardRow = z.object({ tokenId: z.string(), memberNumber: z.string(), validUntil: z.string() });

interface ActiveMember { memberId: string; email: string; cardToken: string }

/** A member admitted through the real lifecycle, holding a card, and the token its QR code carries. */
async function activeMember(): Promise<ActiveMember> {
  const email = `${randomUUID()}@example.np`;
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, email));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:fixture' });
  const invoice = await awaitInvoice(lifecycleHandle(api, member.workflowId));
  await sendLifecycleUpdate(api.client, member.workflowId, paymentReceivedUpdate, paymentFor(invoice));
  await lifecycleHandle(api, member.workflowId).result();
  return { memberId: member.memberId, email, cardToken: await currentCardToken(member.memberId) };
}

/** The token of the member's current card (Ed25519 is deterministic: the printed one). */
async function currentCardToken(memberId: string): Promise<string> {
  return asTest(api, async (tx) => {
    const card = await tx.one(sql.type(CardRow)`
      SELECT token_id AS "tokenId", member_number AS "memberNumber", valid_until::text AS "validUntil" FROM id_cards WHERE member_id = ${memberId} AND revoked_at IS NULL`);
    const keys = await api.keyring.forTenant(tx, api.tenant.id);
    return signCardToken(keys.cardSigning.privateKey, { tenant: api.tenant.slug, memberId, ...card });
  });
}

const verify = async (token: string) => (await api.request('GET', `/api/cards/verify?token=${encodeURIComponent(token)}`)).body.data.attributes;
const statusOf = async (memberId: string) => (await api.request('GET', `/api/members/${memberId}`, { token: admin.token })).body.data.attributes;
const eventTypes = async (memberId: string) => (await memberEvents(api, memberId)).map((e) => e.type);
const eventOf = async (memberId: string, type: string) => (await memberEvents(api, memberId)).find((e) => e.type === type);
/** The statistics equal a recount: the recount finds nothing to correct. */
const recountCorrects = () => asTest(api, (tx) => recountStatistics(tx, api.tenant.id));
const Audit = z.object({ actor: z.string().nullable(), status: z.string().nullable(), reason: z.string().nullable() });
const memberAudits = (memberId: string) => asTest(api, (tx) => tx.any(sql.type(Audit)`
  SELECT actor, new_row->>'status' AS status, new_row->>'status_reason' AS reason FROM audit_log
  WHERE table_name = 'members' AND record_id = ${memberId} AND operation = 'UPDATE' ORDER BY id`));
const mailTo = (email: string, subject: string) => api.smtp.waitFor((m) => recipientsOf(m).includes(email) && (m.subject?.includes(subject) ?? false), 1, 30_000);

async function until<T>(take: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await take();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('suspension', () => {
  test('ends by itself on its date: card revoked meanwhile (verify says why), active again with a new card, emails, events, audit, statistics', async () => {
    const member = await activeMember();
    const ends = new Date(Date.now() + 4_000).toISOString();
    const res = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: admin.token, body: document('suspensions', { until: ends, reasonCode: 'indiscipline', note: 'absent from three meetings' }) });
    expect([res.status, res.body.data.attributes.statusDetail, res.body.data.attributes.statusReason]).toEqual([200, 'suspended', 'indiscipline']);
    expect(res.body.data.attributes.suspendedUntil).toBe(ends);
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, reason: 'CARD_REVOKED', revocationReason: 'suspended' });
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
    await mailTo(member.email, 'is suspended');
    // Only an active member can be suspended.
    const again = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: admin.token, body: document('suspensions', { until: ends, reasonCode: 'other' }) });
    expect([again.status, again.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);

    const after = await until(() => statusOf(member.memberId), (a) => a.statusDetail === 'active');
    expect([after.statusDetail, after.statusReason, after.suspendedUntil]).toEqual(['active', null, null]);
    await until(() => eventTypes(member.memberId), (types) => types.at(-1) === 'IdCardIssued');
    expect((await eventTypes(member.memberId)).slice(-4)).toEqual(['MemberSuspended', 'IdCardRevoked', 'MemberSuspensionLifted', 'IdCardIssued']);
    expect((await eventOf(member.memberId, 'MemberSuspended'))?.payload).toEqual({ until: ends, reasonCode: 'indiscipline' });
    expect((await eventOf(member.memberId, 'MemberSuspensionLifted'))?.payload).toEqual({ early: false });
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, revocationReason: 'suspended' });
    expect(await verify(await currentCardToken(member.memberId))).toMatchObject({ valid: true, reason: null, revocationReason: null });
    const [lifted] = await mailTo(member.email, 'active again');
    expect(lifted!.attachments.map((a) => a.contentType)).toEqual(['application/pdf']);
    expect(await memberAudits(member.memberId)).toEqual(expect.arrayContaining([
      { actor: `user:${admin.userId}`, status: 'suspended', reason: 'indiscipline' },
      { actor: expect.stringMatching(/^workflow:suspension-/), status: 'active', reason: null },
    ]));
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });

  test('lifted early by a head covering the ward; a second lift is refused; a suspension must end in the future', async () => {
    const member = await activeMember();
    const past = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: head.token, body: document('suspensions', { until: new Date(Date.now() - 1000).toISOString(), reasonCode: 'misconduct' }) });
    expect([past.status, past.body.errors[0].source]).toEqual([422, { pointer: '/data/attributes/until' }]);
    const res = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: head.token, body: document('suspensions', { until: new Date(Date.now() + 3_600_000).toISOString(), reasonCode: 'misconduct' }) });
    expect(res.body.data.attributes.statusDetail).toBe('suspended');
    const search = await api.request('GET', '/api/members?filter[status]=suspended', { token: admin.token });
    expect(search.body.data.map((m: { id: string }) => m.id)).toContain(member.memberId);
    const lift = await api.request('POST', `/api/members/${member.memberId}/suspensions/lift`, { token: head.token });
    expect([lift.status, lift.body.data.attributes.statusDetail]).toEqual([200, 'active']);
    expect((await eventOf(member.memberId, 'MemberSuspensionLifted'))?.payload).toEqual({ early: true });
    const twice = await api.request('POST', `/api/members/${member.memberId}/suspensions/lift`, { token: head.token });
    expect([twice.status, twice.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_SUSPENDED']);
    await until(() => eventTypes(member.memberId), (types) => types.at(-1) === 'IdCardIssued');
    expect(await verify(await currentCardToken(member.memberId))).toMatchObject({ valid: true });
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });
});

describe('expulsion', () => {
  test('needs two heads: one head alone does not expel, the proposer cannot confirm, a head of the parent committee does', async () => {
    const member = await activeMember();
    const proposed = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals`, { token: head.token, body: document('expulsion-proposals', { reasonCode: 'anti_party_activity' }) });
    expect([proposed.status, proposed.body.data.attributes.statusDetail]).toEqual([200, 'active']);
    const twice = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals`, { token: wardHead.token, body: document('expulsion-proposals', { reasonCode: 'misconduct' }) });
    expect([twice.status, twice.body.errors[0].code]).toEqual([409, 'EXPULSION_ALREADY_PROPOSED']);
    expect(await verify(member.cardToken)).toMatchObject({ valid: true });

    // Listed for whoever may confirm it (a head of the parent committee) and the party's tenant_admin; never for the proposer.
    const listed = async (token: string) => {
      const res = await api.request('GET', '/api/expulsion-proposals?include=member', { token });
      return res.status === 200 ? (res.body.data as { id: string }[]).map((p) => p.id).filter((id) => id === member.memberId) : res.status;
    };
    expect(await listed(districtHead.token)).toEqual([member.memberId]);
    expect(await listed(admin.token)).toEqual([member.memberId]);
    expect(await listed(head.token)).toEqual([]);
    expect(await listed(wardHead.token)).toEqual([]);
    expect(await listed(registrar.token)).toBe(403);
    const inbox = await api.request('GET', '/api/expulsion-proposals?include=member&page[size]=100', { token: districtHead.token });
    expect(inbox.body.data.find((p: { id: string }) => p.id === member.memberId).attributes)
      .toMatchObject({ memberId: member.memberId, reasonCode: 'anti_party_activity', proposedBy: `user:${head.userId}` });
    expect(inbox.body.included.find((m: { id: string }) => m.id === member.memberId).attributes).toMatchObject({ fullNameEn: expect.any(String), wardName: { en: expect.stringMatching(/^Ward /) } });
    expect(inbox.body.included.find((m: { id: string }) => m.id === member.memberId).attributes).not.toHaveProperty('phone');

    const byProposer = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: head.token });
    expect([byProposer.status, byProposer.body.errors[0].code]).toEqual([409, 'EXPULSION_SAME_PERSON']);
    const byWardHead = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: wardHead.token });
    expect([byWardHead.status, byWardHead.body.errors[0].code]).toEqual([403, 'FORBIDDEN']);
    const byAdmin = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: admin.token });
    expect(byAdmin.status).toBe(403);
    expect((await statusOf(member.memberId)).statusDetail).toBe('active');
    expect(await verify(member.cardToken)).toMatchObject({ valid: true });

    const confirmed = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: districtHead.token, body: document('expulsion-confirmations', { note: 'confirmed at the district meeting' }) });
    expect([confirmed.status, confirmed.body.data.attributes.statusDetail, confirmed.body.data.attributes.statusReason]).toEqual([200, 'expelled', 'anti_party_activity']);
    expect((await eventOf(member.memberId, 'MemberExpelled'))?.payload)
      .toEqual({ proposedBy: `user:${head.userId}`, confirmedBy: `user:${districtHead.userId}`, reasonCode: 'anti_party_activity' });
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, reason: 'CARD_REVOKED', revocationReason: 'expelled' });
    expect(await memberAudits(member.memberId)).toEqual(expect.arrayContaining([{ actor: `user:${districtHead.userId}`, status: 'expelled', reason: 'anti_party_activity' }]));
    await mailTo(member.email, 'expelled');
    expect(await listed(districtHead.token)).toEqual([]);
    // Final.
    const suspend = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: admin.token, body: document('suspensions', { until: new Date(Date.now() + 60_000).toISOString(), reasonCode: 'other' }) });
    expect([suspend.status, suspend.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });

  test('a proposal outlives a suspension: confirming while suspended is refused and keeps it; once lifted, it is confirmed', async () => {
    const member = await activeMember();
    const proposed = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals`, { token: head.token, body: document('expulsion-proposals', { reasonCode: 'misconduct' }) });
    expect(proposed.status).toBe(200);
    const suspended = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: admin.token,
      body: document('suspensions', { until: new Date(Date.now() + 86_400_000).toISOString(), reasonCode: 'indiscipline' }) });
    expect(suspended.status).toBe(200);
    const pendingIds = async () => ((await api.request('GET', '/api/expulsion-proposals?page[size]=100', { token: districtHead.token })).body.data as { id: string }[]).map((p) => p.id);
    expect(await pendingIds()).not.toContain(member.memberId);
    const whileSuspended = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: districtHead.token });
    expect([whileSuspended.status, whileSuspended.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);
    expect((await api.request('POST', `/api/members/${member.memberId}/suspensions/lift`, { token: admin.token })).status).toBe(200);
    expect(await pendingIds()).toContain(member.memberId);
    const confirmed = await api.request('POST', `/api/members/${member.memberId}/expulsion-proposals/confirm`, { token: districtHead.token });
    expect([confirmed.status, confirmed.body.data?.attributes.statusDetail]).toEqual([200, 'expelled']);
  }, 180_000);

  test('the list of pending proposals pages oldest first, each page after the last', async () => {
    const members = [await activeMember(), await activeMember(), await activeMember()];
    for (const m of members) {
      const res = await api.request('POST', `/api/members/${m.memberId}/expulsion-proposals`, { token: head.token, body: document('expulsion-proposals', { reasonCode: 'misconduct' }) });
      expect(res.status).toBe(200);
    }
    const seen: { id: string; proposedAt: string }[] = [];
    let next: string | null = '/api/expulsion-proposals?page[size]=1';
    while (next) {
      const page: { status: number; body: { data: { id: string; attributes: { proposedAt: string } }[]; links: { next: string | null } } } = await api.request('GET', next, { token: districtHead.token });
      expect([page.status, page.body.data.length]).toEqual([200, 1]);
      seen.push(...page.body.data.map((p) => ({ id: p.id, proposedAt: p.attributes.proposedAt })));
      next = page.body.links.next;
    }
    expect(seen.map((p) => p.id).filter((id) => members.some((m) => m.memberId === id))).toEqual(members.map((m) => m.memberId));
    expect(seen.map((p) => p.proposedAt)).toEqual([...seen.map((p) => p.proposedAt)].sort());
    const bad = await api.request('GET', '/api/expulsion-proposals?page[cursor]=bm90LWEtY3Vyc29y', { token: districtHead.token });
    expect([bad.status, bad.body.errors[0].source]).toEqual([400, { parameter: 'page.cursor' }]);
  }, 180_000);
});

describe('resignation', () => {
  test('by the signed link emailed to the member: a forged or expired link is refused, the real one resigns once', async () => {
    const member = await activeMember();
    const unknown = await api.request('POST', `/api/parties/${api.tenant.slug}/resignation-links`, { body: document('resignation-link-requests', { email: 'nobody@example.np' }) });
    const asked = await api.request('POST', `/api/parties/${api.tenant.slug}/resignation-links`, { body: document('resignation-link-requests', { email: member.email.toUpperCase() }) });
    expect([unknown.status, asked.status, unknown.body]).toEqual([202, 202, asked.body]);
    const [mail] = await mailTo(member.email, 'resignation link');
    const link = new URL(/https:\/\/members\.test\S+/.exec(mail!.text ?? '')![0]);
    expect(link.pathname).toBe(`/api/parties/${api.tenant.slug}/resignations`);
    const [memberId, expires, token] = ['member', 'expires', 'token'].map((k) => link.searchParams.get(k)!);
    expect(memberId).toBe(member.memberId);
    const resign = (attributes: Record<string, unknown>) => api.request('POST', `/api/parties/${api.tenant.slug}/resignations`, { body: document('resignations', { member: memberId, expires, token, reasonCode: 'personal', ...attributes }) });

    const forged = await resign({ token: `${token!.slice(0, -2)}AA` });
    expect([forged.status, forged.body.errors[0].code]).toEqual([422, 'TOKEN_BAD_SIGNATURE']);
    const stretched = await resign({ expires: new Date(Date.parse(expires!) + 86_400_000).toISOString() });
    expect([stretched.status, stretched.body.errors[0].code]).toEqual([422, 'TOKEN_BAD_SIGNATURE']);
    const pastExpiry = new Date(Date.now() - 1000).toISOString();
    const keys = await asTest(api, (tx) => api.keyring.forTenant(tx, api.tenant.id));
    const expired = await resign({ expires: pastExpiry, token: resignationToken(keys, api.tenant.id, member.memberId, pastExpiry) });
    expect([expired.status, expired.body.errors[0].code]).toEqual([422, 'TOKEN_EXPIRED']);
    expect((await statusOf(member.memberId)).statusDetail).toBe('active');

    const done = await resign({});
    expect([done.status, done.body.data.attributes.status]).toEqual([200, 'resigned']);
    expect((await statusOf(member.memberId)).statusDetail).toBe('resigned');
    expect((await eventOf(member.memberId, 'MemberResigned'))?.payload).toEqual({ via: 'link', reasonCode: 'personal' });
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, reason: 'CARD_REVOKED', revocationReason: 'resigned' });
    expect(await memberAudits(member.memberId)).toEqual(expect.arrayContaining([{ actor: `member:${member.memberId}`, status: 'resigned', reason: 'personal' }]));
    await mailTo(member.email, 'resignation from');
    const reused = await resign({});
    expect([reused.status, reused.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });

  test('by staff on the member\'s behalf (a head may not)', async () => {
    const member = await activeMember();
    const byHead = await api.request('POST', `/api/members/${member.memberId}/resignations`, { token: head.token, body: document('resignations', { reasonCode: 'health' }) });
    expect(byHead.status).toBe(403);
    const res = await api.request('POST', `/api/members/${member.memberId}/resignations`, { token: registrar.token, body: document('resignations', { reasonCode: 'health', note: 'letter received at the office' }) });
    expect([res.status, res.body.data.attributes.statusDetail]).toEqual([200, 'resigned']);
    expect((await eventOf(member.memberId, 'MemberResigned'))?.payload).toEqual({ via: 'staff', reasonCode: 'health' });
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, revocationReason: 'resigned' });
    await mailTo(member.email, 'resignation from');
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });
});

describe('death', () => {
  test('recorded by staff, also of a suspended member; the card is revoked as deceased; the suspension does not come back', async () => {
    const member = await activeMember();
    const suspended = await api.request('POST', `/api/members/${member.memberId}/suspensions`, { token: admin.token, body: document('suspensions', { until: new Date(Date.now() + 3_000).toISOString(), reasonCode: 'other' }) });
    expect(suspended.status).toBe(200);
    const res = await api.request('POST', `/api/members/${member.memberId}/death`, { token: registrar.token, body: document('deaths', { note: 'reported by the ward committee' }) });
    expect([res.status, res.body.data.attributes.statusDetail, res.body.data.attributes.statusReason]).toEqual([200, 'deceased', 'deceased']);
    expect((await eventOf(member.memberId, 'MemberDied'))?.payload).toEqual({ recordedBy: `user:${registrar.userId}` });
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, revocationReason: 'suspended' });
    // The suspension's end passes: the member stays deceased, and no card is issued.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect((await statusOf(member.memberId)).statusDetail).toBe('deceased');
    expect(await asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM id_cards WHERE member_id = ${member.memberId} AND revoked_at IS NULL`))).toBe(0);
    const again = await api.request('POST', `/api/members/${member.memberId}/death`, { token: admin.token, body: document('deaths', { note: 'reported twice' }) });
    expect([again.status, again.body.errors[0].code]).toEqual([409, 'MEMBER_NOT_ACTIVE']);
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });

  test('of an active member revokes the card as deceased; a head may not record it, nor anyone without a note', async () => {
    const member = await activeMember();
    const death = { body: document('deaths', { note: 'certificate seen by the registrar' }) };
    expect((await api.request('POST', `/api/members/${member.memberId}/death`, { token: head.token, ...death })).status).toBe(403);
    const noNote = await api.request('POST', `/api/members/${member.memberId}/death`, { token: admin.token });
    expect([noNote.status, noNote.body.errors[0].code]).toEqual([422, 'VALIDATION_FAILED']);
    expect((await statusOf(member.memberId)).statusDetail).toBe('active');
    const res = await api.request('POST', `/api/members/${member.memberId}/death`, { token: admin.token, ...death });
    expect(res.body.data.attributes.statusDetail).toBe('deceased');
    expect(await verify(member.cardToken)).toMatchObject({ valid: false, reason: 'CARD_REVOKED', revocationReason: 'deceased' });
    expect(await recountCorrects()).toEqual({ correctedRows: 0 });
  });
});
