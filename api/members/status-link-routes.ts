import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { TOKEN_LIFETIME_SECONDS } from '../../src/auth/tokens.ts';
import { findCurrentCard } from '../../src/cards/card-store.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { findMember, type MemberView } from '../../src/members/member-queries.ts';
import { findRefusal, type RegistrationRefusal } from '../../src/members/registration-refusals.ts';
import { slug } from '../../src/validation/fields.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import type { RouteRegistry } from '../http/route.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { APPLICANT_EVENT_TYPES, LastEventId, serveMemberEvents } from './live-status.ts';

const LinkParams = z.object({ slug, id: z.uuid() });
const LinkQuery = z.object({ token: z.string().min(16).max(100) });
const EventStream = { description: '', contentType: 'text/event-stream', schema: z.string() };
const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

/**
 * The application a status link names, if its token is right: the member, or the refused
 * registration it stands for. Both reads happen whichever holds the id, so the answer costs
 * the same for a known and an unknown id. @throws ApiError 404 otherwise.
 */
export async function applicationByLink(pool: ApiDeps['pool'], params: z.output<typeof LinkParams>, token: string)
  : Promise<{ tenant: Tenant; member: MemberView | null; refusal: RegistrationRefusal | null }> {
  const tenant = await partyBySlug(pool, params.slug);
  const { member, refusal } = await withTenant(pool, { tenantId: tenant.id, actor: 'applicant' }, async (tx) =>
    ({ member: await findMember(tx, params.id), refusal: await findRefusal(tx, params.id) }));
  const given = createHash('sha256').update(token).digest();
  const held = member?.statusTokenHash ?? refusal?.statusTokenHash;
  if (!held || !timingSafeEqual(given, held)) throw ApiError.notFound('application');
  return { tenant, member, refusal };
}

const hubOf = (deps: Pick<ApiDeps, 'memberEvents'>) => {
  if (!deps.memberEvents) throw new ApiError('DATABASE_UNAVAILABLE', 'live updates are not available on this server');
  return deps.memberEvents;
};

/** What the applicant's status link leads to besides the status itself: live updates and the card. */
export function statusLinkRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'storage' | 'log' | 'memberEvents'>): void {
  registry.add({
    method: 'get',
    path: '/api/parties/:slug/applications/:id/events',
    summary: "Live updates of an applicant's status through their private link (Server-Sent Events; resumes after Last-Event-ID)",
    tag: 'applications',
    access: 'public',
    params: LinkParams,
    query: LinkQuery,
    headers: z.object({ 'last-event-id': LastEventId }),
    responses: { 200: { ...EventStream, description: 'text/event-stream: one `member` event per change of the application (id: its version; data: JSON with type, version, recordedAt, status, statusDetail, memberNumber)' } },
    async handler({ params, query, headers, req, res }) {
      const hub = hubOf(deps);
      const { tenant, member, refusal } = await applicationByLink(deps.pool, params, query.token);
      await serveMemberEvents(req, res, {
        hub, pool: deps.pool, log: deps.log, tenantId: tenant.id, memberId: params.id, actor: 'applicant',
        after: Number(headers['last-event-id'] ?? 0), shown: (type) => APPLICANT_EVENT_TYPES.has(type),
        // A refused registration shows what a new application shows, and then never changes.
        ...(member ? {} : { fixed: [{ version: 1, type: 'MemberRegistered', recordedAt: refusal!.refusedAt }] }),
      });
      return undefined;
    },
  });

  registry.add({
    method: 'get',
    path: '/api/parties/:slug/applications/:id/card',
    summary: "The applicant's ID card as a PDF, through their private link, once issued",
    tag: 'applications',
    access: 'public',
    params: LinkParams,
    query: LinkQuery,
    responses: { 200: { description: 'the ID card (404 CARD_NOT_FOUND until one is issued, or after it is revoked)', contentType: 'application/pdf', schema: z.string().meta({ format: 'binary' }) } },
    async handler({ params, query, res }) {
      const { tenant, member } = await applicationByLink(deps.pool, params, query.token);
      const card = member ? await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, (tx) => findCurrentCard(tx, member.id)) : null;
      if (!card) throw new ApiError('CARD_NOT_FOUND', 'no ID card has been issued on this application');
      const pdf = await deps.storage.get(card.storageKey);
      res.status(200).type('application/pdf')
        .setHeader('content-disposition', `attachment; filename="${card.memberNumber}.pdf"`)
        .setHeader('cache-control', 'private, no-store')
        .send(Buffer.from(pdf));
      return undefined;
    },
  });

  registry.add({
    method: 'get',
    path: '/api/members/:id/events',
    summary: "Live updates of a member's event stream (Server-Sent Events; resumes after Last-Event-ID): staff, or heads covering the member",
    tag: 'members',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    headers: z.object({ 'last-event-id': LastEventId }),
    responses: { 200: { ...EventStream, description: 'text/event-stream: one `member` event per event of the member (id: its version; data: JSON with type, version, recordedAt, status, statusDetail, memberNumber)' } },
    async handler({ params, headers, auth, req, res }) {
      const hub = hubOf(deps);
      const member = await withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, (tx) => findMember(tx, params.id));
      if (!member) throw ApiError.notFound('member');
      if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden('not your area');
      await serveMemberEvents(req, res, {
        hub, pool: deps.pool, log: deps.log, tenantId: auth.tenantId, memberId: member.id, actor: `user:${auth.userId}`,
        after: Number(headers['last-event-id'] ?? 0), shown: () => true,
        // As long as a bearer token lives: the client reconnects with a fresh one, and its access is read again.
        endAfterMs: TOKEN_LIFETIME_SECONDS * 1_000,
      });
      return undefined;
    },
  });
}
