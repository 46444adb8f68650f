/**
 * An administrator's and an operator's controls, over the API and the CLI: disabling a user,
 * ending a role or a committee headship, revoking an ID card. Each takes effect with the very
 * next request, and leaves an audit row (and, for a card, an event) naming who did it.
 */
import { sql } from 'slonik';
import { z } from 'zod';
import { revokeCardOnLeaving } from '../../src/cards/card-revocation.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { addCommitteeWithHead, asTest, memberEvents } from '../support/lifecycle-harness.ts';
import { seedMembers, type PartyMembers } from '../faults/support/party-fixtures.ts';
import { runOperatorCli } from '../support/cli-process.ts';

let api: ApiHarness & { stop(): Promise<void> };
let admin: { userId: string; token: string };
let members: PartyMembers;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  admin = await api.userWithToken({ roles: ['tenant_admin'] });
  members = await seedMembers(api, api.tenant);
}, 180_000);
afterAll(() => api.stop());

const document = (type: string, attributes: Record<string, unknown>) => ({ data: { type, attributes } });
const Audit = z.object({ operation: z.string(), actor: z.string().nullable(), newRow: z.record(z.string(), z.unknown()).nullable() });
const auditOf = (table: string, recordId: string) => asTest(api, (tx) => tx.any(sql.type(Audit)`
  SELECT operation, actor, new_row AS "newRow" FROM audit_log WHERE table_name = ${table} AND record_id = ${recordId} ORDER BY id`));

/** The operator CLI against the harness's database. */
const cli = (args: string[]) => runOperatorCli(args, { DATABASE_URL: api.db.appUrl });
const emailOf = (userId: string) => asTest(api, (tx) => tx.oneFirst(sql.type(z.object({ email: z.string() }))`SELECT email FROM users WHERE id = ${userId}`));
const OS_ACTOR = expect.stringMatching(/^cli:/);
const because = (type: string, reason = 'left the party office') => ({ body: document(type, { reason }) });

describe('disabling a user', () => {
  test('refuses their tokens from the next request and their logins; only a tenant_admin may, and not themselves', async () => {
    const victim = await api.userWithToken({ roles: ['ops'] });
    const stuck = '/api/ops/stuck-lifecycles?stage=AwaitingApproval';
    expect((await api.request('GET', stuck, { token: victim.token })).status).toBe(200);
    const treasurer = await api.userWithToken({ roles: ['treasurer'] });
    expect((await api.request('POST', `/api/users/${victim.userId}/disable`, { token: treasurer.token, ...because('user-disablements') })).status).toBe(403);
    expect((await api.request('POST', `/api/users/${admin.userId}/disable`, { token: admin.token, ...because('user-disablements') })).body.errors[0].code).toBe('OWN_ACCESS');
    // The same id in capitals names the same user (uuids ignore case): still their own account.
    expect((await api.request('POST', `/api/users/${admin.userId.toUpperCase()}/disable`, { token: admin.token, ...because('user-disablements') })).body.errors[0].code).toBe('OWN_ACCESS');

    const noReason = await api.request('POST', `/api/users/${victim.userId}/disable`, { token: admin.token });
    expect([noReason.status, noReason.body.errors[0].code]).toEqual([422, 'VALIDATION_FAILED']);
    expect((await api.request('GET', stuck, { token: victim.token })).status).toBe(200);
    const res = await api.request('POST', `/api/users/${victim.userId}/disable`, { token: admin.token, ...because('user-disablements') });
    expect([res.status, res.body.data]).toEqual([200, { type: 'users', id: victim.userId, attributes: { active: false, roles: ['ops'], headOf: [] } }]);
    const after = await api.request('GET', stuck, { token: victim.token });
    expect([after.status, after.body.errors[0].code]).toEqual([401, 'UNAUTHENTICATED']);
    const login = await api.request('POST', '/api/auth/login', { body: document('sessions', { tenant: api.tenant.slug, email: await emailOf(victim.userId), password: 'a long enough password' }) });
    expect(login.status).toBe(401);
    expect((await auditOf('users', victim.userId)).filter((a) => a.operation === 'UPDATE'))
      .toEqual([{ operation: 'UPDATE', actor: `user:${admin.userId}`, newRow: expect.objectContaining({ is_active: false, disabled_reason: 'left the party office' }) }]);
    // Again: the same answer, nothing more written.
    expect((await api.request('POST', `/api/users/${victim.userId}/disable`, { token: admin.token, ...because('user-disablements') })).status).toBe(200);
    expect((await auditOf('users', victim.userId)).filter((a) => a.operation === 'UPDATE')).toHaveLength(1);
  });

  test('with the CLI, audited as the operator', async () => {
    const victim = await api.userWithToken({ roles: ['registrar'] });
    const run = await cli(['user:disable', '--tenant', api.tenant.slug, '--user', await emailOf(victim.userId), '--reason', 'laptop stolen']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect((await api.request('GET', `/api/members/${members.withCard.memberId}`, { token: victim.token })).status).toBe(401);
    expect((await auditOf('users', victim.userId)).at(-1)).toMatchObject({ operation: 'UPDATE', actor: OS_ACTOR, newRow: expect.objectContaining({ disabled_reason: 'laptop stolen' }) });
    const unknown = await cli(['user:disable', '--tenant', api.tenant.slug, '--user', 'nobody@party.test', '--reason', 'laptop stolen']);
    expect([unknown.code, unknown.stderr]).toEqual([1, '--user: no user with email nobody@party.test in this party\n']);
  });
});

describe('ending a role', () => {
  test('takes the role away from the next request, keeps the row as history, audited with the admin', async () => {
    const user = await api.userWithToken({ roles: ['ops', 'treasurer'] });
    const stuck = '/api/ops/stuck-lifecycles?stage=AwaitingApproval';
    expect((await api.request('GET', stuck, { token: user.token })).status).toBe(200);
    const res = await api.request('POST', `/api/users/${user.userId}/roles/ops/revoke`, { token: admin.token, ...because('role-revocations') });
    expect([res.status, res.body.data.attributes.roles]).toEqual([200, ['treasurer']]);
    expect((await api.request('GET', stuck, { token: user.token })).status).toBe(403);
    const again = await api.request('POST', `/api/users/${user.userId}/roles/ops/revoke`, { token: admin.token, ...because('role-revocations') });
    expect([again.status, again.body.errors[0].code]).toEqual([404, 'ROLE_NOT_FOUND']);
    expect((await api.request('POST', `/api/users/${admin.userId}/roles/tenant_admin/revoke`, { token: admin.token, ...because('role-revocations') })).body.errors[0].code).toBe('OWN_ACCESS');
    expect((await api.request('POST', `/api/users/${admin.userId.toUpperCase()}/roles/tenant_admin/revoke`, { token: admin.token, ...because('role-revocations') })).body.errors[0].code).toBe('OWN_ACCESS');
    const roleRows = await asTest(api, (tx) => tx.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM user_roles WHERE user_id = ${user.userId} AND role = 'ops'`));
    expect(roleRows).toHaveLength(1);
    expect((await auditOf('user_roles', roleRows[0]!)).at(-1)).toMatchObject({ operation: 'UPDATE', actor: `user:${admin.userId}`, newRow: expect.objectContaining({ revoked_at: expect.any(String), revocation_reason: 'left the party office' }) });

    const cliRun = await cli(['user:revoke-role', '--tenant', api.tenant.slug, '--user', await emailOf(user.userId), '--role', 'treasurer', '--reason', 'moved to another district']);
    expect([cliRun.code, cliRun.stderr]).toEqual([0, '']);
    expect((await api.request('POST', `/api/members/${members.awaitingPayment.memberId}/payments`, { token: user.token,
      body: document('payments', { invoiceId: members.awaitingPayment.invoice.invoiceId, amount: 1, currency: 'NPR', reference: 'R-1', paidAt: new Date().toISOString() }) })).status).toBe(403);
  });
});

describe('ending a committee headship', () => {
  test('an ended head can no longer see or approve the applications of their area', async () => {
    const district = await addCommitteeWithHead(api, api.geo.districtId, 'District Committee', 'ended-head@party.test');
    const head = await api.tokenFor(district.headUserId);
    const member = `/api/members/${members.awaitingApproval.memberId}`;
    expect((await api.request('GET', member, { token: head })).status).toBe(200);
    const outsider = await api.userWithToken({ roles: ['registrar'] });
    expect((await api.request('POST', `/api/committees/${district.committeeId}/heads/${district.headUserId}/end`, { token: outsider.token, ...because('headship-endings') })).status).toBe(403);

    const res = await api.request('POST', `/api/committees/${district.committeeId}/heads/${district.headUserId}/end`, { token: admin.token, ...because('headship-endings', 'resigned from the committee') });
    expect([res.status, res.body.data.attributes]).toEqual([200, { committeeId: district.committeeId, userId: district.headUserId, validTo: expect.any(String) }]);
    expect((await api.request('GET', member, { token: head })).status).toBe(403);
    const approve = await api.request('POST', `${member}/approve`, { token: head, body: document('approvals', { note: 'too late' }) });
    expect([approve.status, approve.body.errors[0].code]).toEqual([403, 'FORBIDDEN']);
    expect((await auditOf('committee_roles', res.body.data.id)).at(-1)).toMatchObject({ operation: 'UPDATE', actor: `user:${admin.userId}`,
      newRow: expect.objectContaining({ end_reason: 'resigned from the committee', valid_to: expect.any(String) }) });
    const again = await api.request('POST', `/api/committees/${district.committeeId}/heads/${district.headUserId}/end`, { token: admin.token, ...because('headship-endings') });
    expect([again.status, again.body.errors[0].code]).toEqual([404, 'ROLE_NOT_FOUND']);
  });

  test('with the CLI', async () => {
    const province = await addCommitteeWithHead(api, api.geo.provinceId, 'Province Committee', 'province-head@party.test');
    const run = await cli(['committee:end-head', '--tenant', api.tenant.slug, '--committee', province.committeeId, '--user', 'province-head@party.test', '--reason', 'term over']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect((await api.request('GET', `/api/members/${members.awaitingApproval.memberId}`, { token: await api.tokenFor(province.headUserId) })).status).toBe(403);
    const again = await cli(['committee:end-head', '--tenant', api.tenant.slug, '--committee', province.committeeId, '--user', 'province-head@party.test', '--reason', 'term over']);
    expect([again.code, again.stderr]).toEqual([1, '--user: the user heads this committee in no running term\n']);
  });
});

describe('revoking an ID card', () => {
  const verify = (token: string) => api.request('GET', `/api/cards/verify?token=${token}`);

  test('a registrar revokes with a reason; the public check then answers CARD_REVOKED; the revocation is an event and an audit row', async () => {
    const card = members.withCard;
    expect((await verify(card.cardToken)).body.data.attributes).toMatchObject({ valid: true, reason: null });
    const registrar = await api.userWithToken({ roles: ['registrar'] });
    const treasurer = await api.userWithToken({ roles: ['treasurer'] });
    const revoke = (token: string, reason: unknown) => api.request('POST', `/api/members/${card.memberId}/card/revoke`, { token, body: document('card-revocations', { reason }) });
    expect((await revoke(treasurer.token, 'lost')).status).toBe(403);
    const badReason = await revoke(registrar.token, 'he annoyed me');
    expect([badReason.status, badReason.body.errors[0].source]).toEqual([422, { pointer: '/data/attributes/reason' }]);
    expect((await verify(card.cardToken)).body.data.attributes.valid).toBe(true);

    const res = await revoke(registrar.token, 'lost');
    expect([res.status, res.body.data]).toEqual([200, { type: 'card-revocations', id: expect.any(String), attributes: { memberId: card.memberId, reason: 'lost', revokedAt: expect.any(String) } }]);
    expect((await verify(card.cardToken)).body.data.attributes).toMatchObject({ valid: false, reason: 'CARD_REVOKED' });
    const download = await api.request('GET', `/api/members/${card.memberId}/card`, { token: admin.token });
    expect([download.status, download.body.errors[0].code]).toEqual([404, 'CARD_NOT_FOUND']);
    const again = await revoke(admin.token, 'lost');
    expect([again.status, again.body.errors[0].code]).toEqual([404, 'CARD_NOT_FOUND']);

    const revoked = (await memberEvents(api, card.memberId)).filter((e) => e.type === 'IdCardRevoked');
    expect(revoked.map((e) => [e.payload, e.metadata.actor])).toEqual([[{ cardId: res.body.data.id, reason: 'lost' }, `user:${registrar.userId}`]]);
    expect((await auditOf('id_cards', res.body.data.id)).at(-1)).toMatchObject({ operation: 'UPDATE', actor: `user:${registrar.userId}`,
      newRow: expect.objectContaining({ revocation_reason: 'lost', revoked_at: expect.any(String) }) });
  });

  test('with the CLI; and the call for a member leaving good standing revokes as membership_ended, once', async () => {
    const more = await seedMembers(api, api.tenant);
    const run = await cli(['card:revoke', '--tenant', api.tenant.slug, '--member', more.withCard.memberId, '--reason', 'stolen']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect((await verify(more.withCard.cardToken)).body.data.attributes).toMatchObject({ valid: false, reason: 'CARD_REVOKED' });
    const bad = await cli(['card:revoke', '--tenant', api.tenant.slug, '--member', more.withCard.memberId, '--reason', 'whim']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--reason: one of lost, stolen, damaged, issued_in_error, membership_ended');

    const third = await seedMembers(api, api.tenant);
    const leave = () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'workflow:leaving' }, (tx) => revokeCardOnLeaving(tx, api.tenant.id, third.withCard.memberId, 'workflow:leaving'));
    expect(await leave()).toMatchObject({ memberId: third.withCard.memberId, reason: 'membership_ended' });
    expect(await leave()).toBeNull();
    expect((await verify(third.withCard.cardToken)).body.data.attributes).toMatchObject({ valid: false, reason: 'CARD_REVOKED' });
    expect((await memberEvents(api, third.withCard.memberId)).filter((e) => e.type === 'IdCardRevoked').map((e) => e.metadata.actor)).toEqual(['workflow:leaving']);
  });
});
