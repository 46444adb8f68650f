import { randomBytes } from 'node:crypto';
import { issueToken } from '../../../src/auth/tokens.ts';
import type { Tenant } from '../../../src/tenants/tenants.ts';
import type { ApiHarness } from '../../support/api-harness.ts';
import { forgedSignature } from '../../support/token-spellings.ts';
import type { FuzzContext } from './fuzz-requests.ts';
import { seedMembers, userOf, type PartyMembers } from './party-fixtures.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Tokens a client might hold that must never authenticate anyone. */
async function invalidTokens(api: ApiHarness, valid: string, members: PartyMembers, webhookSecret: string): Promise<string[]> {
  const claims = { userId: api.headUserId, tenantId: api.tenant.id };
  const expired = await issueToken(api.apiDeps.tokenSecret, claims, new Date(Date.now() - 3_600_000));
  const foreignKey = await issueToken(randomBytes(32), claims);
  const [header, payload] = valid.split('.') as [string, string];
  return [
    forgedSignature(valid),
    expired.token,
    foreignKey.token,
    `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
    `${b64({ alg: 'HS256' })}.${b64({ sub: api.headUserId, tid: api.tenant.id, iss: 'sadasya', aud: 'sadasya-api', exp: 9_999_999_999 })}.${randomBytes(32).toString('base64url')}`,
    `${header}.${payload}`,
    members.awaitingApproval.statusToken,
    members.withCard.cardToken,
    webhookSecret,
  ];
}

/** The card's token with its payload changed and its signature kept. */
function tamperedCardTokens(token: string, otherSlug: string): string[] {
  const [payload, signature] = token.split('.') as [string, string];
  const fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const changes = [{ exp: '2999-12-31' }, { ten: otherSlug }, { ten: 'no-such-party' }, { exp: '0000-01-01' }, { mid: '../../x' }, { v: 2 }, { kid: 'AAAA' }];
  return changes.map((change) => `${b64({ ...fields, ...change })}.${signature}`);
}

/** Everything the fuzzer may use: real ids and tokens of two parties, the secrets a provider or operator holds. */
export async function buildFuzzContext(api: ApiHarness, other: Tenant): Promise<FuzzContext> {
  const members = await seedMembers(api, api.tenant);
  const head = await api.tokenFor(api.headUserId);
  const staff = await Promise.all((['tenant_admin', 'treasurer', 'registrar', 'ops'] as const).map((role) => api.userWithToken({ roles: [role] })));
  const nobody = await api.userWithToken();
  const otherAdmin = await userOf(api, other, { roles: ['tenant_admin'] });
  const all = Object.values(members);
  const webhookSecret = await api.webhookSecret('esewa');
  return {
    plausible: {
      ids: [
        ...all.map((m) => m.memberId), members.awaitingPayment.invoice.invoiceId, members.withCard.invoice.invoiceId, members.withCard.cardTokenId,
        api.committeeId, api.headUserId, nobody.userId, api.tenant.id, other.id, api.geo.provinceId, api.geo.localLevelId, ...api.geo.wardIds,
      ],
      byName: {
        slug: [api.tenant.slug, other.slug],
        token: [...all.map((m) => m.statusToken), members.withCard.cardToken, ...tamperedCardTokens(members.withCard.cardToken, other.slug)],
        provider: ['esewa', 'khalti', 'manual'],
        tenant: [api.tenant.slug, other.slug],
        email: ['head@party.test'],
        // Cursors as a client could forge them: each date passes Date.parse, not every one Postgres.
        cursor: ['2024-01-01T00:00:00.000Z', '0', '2024', 'Tue, 01 Jan 2024 10:00:00 GMT', 'January 1, 2024 10:00 PM', '+275760-09-13T00:00:00.000Z',
          '-000001-01-01T00:00:00Z', '0000-01-01', '12/31/2024', '2024-01-01T00:00:00.000+0545'].map((at) => Buffer.from(`${at}|${members.withCard.memberId}`).toString('base64url')),
      },
    },
    tokens: [head, nobody.token, otherAdmin.token, ...staff.map((s) => s.token)],
    badTokens: await invalidTokens(api, head, members, webhookSecret),
    platformKey: api.apiDeps.platformAdminKey!,
    webhookSecret,
  };
}
