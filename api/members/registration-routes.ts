import { slug } from '../../src/validation/fields.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { findMember } from '../../src/members/member-queries.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { MemberAttributes, memberResource } from './presenter.ts';

const Slug = z.object({ slug });

/** Anonymous applicants: name the party by its slug in the path. */
export function registrationRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'publicBaseUrl'>): void {
  registry.add({
    method: 'post',
    path: '/api/parties/:slug/applications',
    summary: 'Apply for membership; answers once the application is durably recorded',
    tag: 'applications',
    access: 'public',
    params: Slug,
    body: requestDocument('applications', ApplicationSchema),
    responses: { 201: { description: 'the member, pending, with a private status link', schema: responseDocument('members', MemberAttributes) } },
    async handler({ params, body, req }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const registered = await registerApplicant({ client: deps.temporal, pool: deps.pool, keyring: deps.keyring }, tenant.id, body.data.attributes, { ip: req.ip, userAgent: req.get('user-agent') });
      const member = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, (tx) => findMember(tx, registered.memberId));
      if (!member) throw new Error(`member ${registered.memberId} missing after registration`);
      const statusLink = `${deps.publicBaseUrl ?? ''}/api/parties/${tenant.slug}/applications/${member.id}?token=${registered.statusToken}`;
      return { status: 201, headers: { location: statusLink }, body: { data: { ...memberResource(member), links: { status: statusLink } } } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/parties/:slug/applications/:id',
    summary: "An applicant's own status, through the private link given at registration",
    tag: 'applications',
    access: 'public',
    params: Slug.extend({ id: z.uuid() }),
    query: z.object({ token: z.string().min(16).max(100) }),
    responses: { 200: { description: 'the application status', schema: responseDocument('members', MemberAttributes) } },
    async handler({ params, query }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const member = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, (tx) => findMember(tx, params.id));
      const given = createHash('sha256').update(query.token).digest();
      if (!member?.statusTokenHash || !timingSafeEqual(given, member.statusTokenHash)) throw ApiError.notFound('application');
      return { status: 200, body: { data: memberResource(member) } };
    },
  });
}
