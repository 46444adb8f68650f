import { slug } from '../../src/validation/fields.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { findRefusal } from '../../src/members/registration-refusals.ts';
import { findCurrentCard } from '../../src/cards/card-store.ts';
import { applicantInvoice } from './invoice-presenter.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { JSONAPI, requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { applicationResource, MemberAttributes, memberResource, refusalResource } from './presenter.ts';

const Slug = z.object({ slug });
const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, '16 to 128 letters, digits, "_" or "-"; a random UUID is best')
  .describe('makes the request safe to repeat: the same key and application give the same member and status link; another application under it answers 422 IDEMPOTENCY_KEY_REUSED');

/** Anonymous applicants: name the party by its slug in the path. */
export function registrationRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'publicBaseUrl'>): void {
  registry.add({
    method: 'post',
    path: '/api/parties/:slug/applications',
    summary: 'Apply for membership; answers once the application is durably recorded',
    tag: 'applications',
    access: 'public',
    params: Slug,
    headers: z.object({ 'idempotency-key': IdempotencyKey.optional() }),
    body: requestDocument('applications', ApplicationSchema),
    responses: {
      201: {
        description: 'the application is taken: the member, pending, with a private status link. A repeat under the same Idempotency-Key answers the same. '
          + 'An application whose phone or email someone in the party already holds is answered exactly the same, and its status link shows it as pending; '
          + 'the holder of the contact is told through it. data.links.status and the Location header carry the private status link.',
        schema: responseDocument('members', MemberAttributes),
      },
    },
    async handler({ params, body, headers, req }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const application = body.data.attributes;
      const registered = await registerApplicant({ client: deps.temporal, pool: deps.pool, keyring: deps.keyring }, tenant.id, application,
        { idempotencyKey: headers['idempotency-key'], ip: req.ip, userAgent: req.get('user-agent') });
      const statusLink = `${deps.publicBaseUrl ?? ''}/api/parties/${tenant.slug}/applications/${registered.memberId}?token=${registered.statusToken}`;
      const resource = applicationResource(registered.memberId, application, registered);
      return { status: 201, headers: { location: statusLink }, body: { data: { ...resource, links: { status: statusLink } } } };
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
    responses: { 200: { description: 'the application status; `included` holds the open invoice (amount, due date, how to pay) when there is one, '
      + 'and data.links names the live updates (`events`) and, once issued, the card (`card`)', schema: responseDocument('members', MemberAttributes) },
    303: { description: 'a browser (preferring text/html) opening the link is sent to the status page, /parties/{slug}/applications/{id}?token=…' } },
    async handler({ params, query, req }) {
      // The emailed link opened in a browser: the web page, which reads this same resource.
      if (req.accepts([JSONAPI, 'application/json', 'text/html']) === 'text/html') {
        const page = `/parties/${encodeURIComponent(params.slug)}/applications/${params.id}?token=${encodeURIComponent(query.token)}`;
        return { status: 303, headers: { location: page, 'referrer-policy': 'no-referrer' }, body: { meta: { page } } };
      }
      const tenant = await partyBySlug(deps.pool, params.slug);
      // Both reads, whichever holds the id: the answer costs the same for either.
      const { member, refusal, invoice, card } = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, async (tx) => {
        const member = await findMember(tx, params.id);
        const refusal = await findRefusal(tx, params.id);
        const given = createHash('sha256').update(query.token).digest();
        const held = member?.statusTokenHash ?? refusal?.statusTokenHash;
        if (!held || !timingSafeEqual(given, held)) return { member: null, refusal: null, invoice: null, card: null };
        return member
          ? { member, refusal, invoice: await applicantInvoice(tx, member.id), card: await findCurrentCard(tx, member.id) }
          : { member, refusal, invoice: null, card: null };
      });
      if (!member && !refusal) throw ApiError.notFound('application');
      const link = `/api/parties/${tenant.slug}/applications/${params.id}`;
      const links = { events: `${link}/events?token=${query.token}`, ...(card ? { card: `${link}/card?token=${query.token}` } : {}) };
      const data = member ? memberResource(member) : refusalResource(refusal!);
      return { status: 200, body: { data: { ...data, links }, included: invoice ? [invoice] : [] } };
    },
  });
}
