import { slug } from '../../src/validation/fields.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { applicantDateOfBirth, ConsentSchema, recordConsent } from '../../src/members/eligibility.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { AfterCommitStarts } from '../../src/members/lifecycle-starts.ts';
import { memberWorkflowId, withdrawUpdate } from '../../src/members/lifecycle-contract.ts';
import { withdrawalRefusal } from '../../src/members/admission-rules.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import type { MemberPlace } from '../../src/members/member-places.ts';
import { findMember, type MemberView } from '../../src/members/member-queries.ts';
import { findRefusal, withdrawRefusal, type RegistrationRefusal } from '../../src/members/registration-refusals.ts';
import { findCurrentCard } from '../../src/cards/card-store.ts';
import { applicantInvoice } from './invoice-presenter.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { JSONAPI, requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { memberPlaces } from '../../src/members/member-places.ts';
import { applicationResource, MemberAttributes, memberResource, refusalResource } from './presenter.ts';
import { RegistrationAnswerTimes } from './registration-timing.ts';

const Slug = z.object({ slug });
const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, '16 to 128 letters, digits, "_" or "-"; a random UUID is best')
  .describe('makes the request safe to repeat: the same key and application give the same member and status link; another application under it answers 422 IDEMPOTENCY_KEY_REUSED');

/** Anonymous applicants: name the party by its slug in the path. */
export function registrationRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'publicBaseUrl' | 'clock' | 'log' | 'lifecycleStarts'>): void {
  // The answer waits for the commit only; each lifecycle starts after it (src/members/lifecycle-starts.ts).
  const starts = deps.lifecycleStarts ?? new AfterCommitStarts({ client: deps.temporal, pool: deps.pool, log: deps.log });
  const answerTimes = new RegistrationAnswerTimes();
  // Only who may be a member applies (docs/eligibility.md): 18 or over, with the declarations and consent the law asks for.
  const ApplicantSchema = ApplicationSchema.extend({
    dateOfBirth: applicantDateOfBirth(deps.clock),
    consent: ConsentSchema,
  });
  registry.add({
    method: 'post',
    path: '/api/parties/:slug/applications',
    summary: 'Apply for membership; answers once the application is durably recorded',
    tag: 'applications',
    access: 'public',
    params: Slug,
    headers: z.object({ 'idempotency-key': IdempotencyKey.optional() }),
    body: requestDocument('applications', ApplicantSchema),
    responses: {
      201: {
        description: 'the application is taken: the member, pending, with a private status link. A repeat under the same Idempotency-Key answers the same. '
          + 'An application whose phone or email someone in the party already holds is answered exactly the same, and its status link shows it as pending; '
          + 'the holder of the contact is told through it. data.links.status and the Location header carry the private status link.',
        schema: responseDocument('members', MemberAttributes),
      },
    },
    async handler({ params, body, headers, req }) {
      const began = performance.now();
      const tenant = await partyBySlug(deps.pool, params.slug);
      const { consent, ...application } = body.data.attributes;
      const consentedAt = deps.clock();
      const registered = await registerApplicant({ client: deps.temporal, pool: deps.pool, keyring: deps.keyring, log: deps.log, starts }, tenant.id, application,
        { idempotencyKey: headers['idempotency-key'], ip: req.ip, userAgent: req.get('user-agent'), partySlug: tenant.slug, at: consentedAt,
          beforeStart: (tx, memberId) => recordConsent(tx, tenant.id, memberId, consent, consentedAt),
          // The ward's and committee's names for the answer, read in the same transaction.
          describe: async (tx, { committeeId }) => (await memberPlaces(tx, [{ wardId: application.wardId, committeeId }]))({ wardId: application.wardId, committeeId }) });
      // A refused application (a member's contact) is answered no sooner than recorded ones are (registration-timing.ts); repeats are reads either way.
      const took = performance.now() - began;
      if (registered.recordedNow && registered.stage === 'AwaitingApproval') answerTimes.recorded(tenant.id, took);
      else if (registered.recordedNow) await delay(answerTimes.refusedWait(tenant.id, took));
      const statusLink = `${deps.publicBaseUrl ?? ''}/api/parties/${tenant.slug}/applications/${registered.memberId}?token=${registered.statusToken}`;
      const resource = applicationResource(registered.memberId, application, registered, registered.described!);
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
    query: StatusToken,
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
      const held = await heldApplication(deps, tenant.id, params.id, query.token);
      // Read for a refused application too (it holds none): the answer costs the same either way.
      const { invoice, card } = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, async (tx) =>
        ({ invoice: await applicantInvoice(tx, params.id), card: await findCurrentCard(tx, params.id) }));
      const link = `/api/parties/${tenant.slug}/applications/${params.id}`;
      const links = { events: `${link}/events?token=${query.token}`, ...(card ? { card: `${link}/card?token=${query.token}` } : {}) };
      return { status: 200, body: { data: { ...statusResource(held), links }, included: invoice ? [invoice] : [] } };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/applications/:id/withdraw',
    summary: "The applicant withdraws their application through the private status link, while it awaits a decision or a payment",
    tag: 'applications',
    access: 'public',
    params: Slug.extend({ id: z.uuid() }),
    query: StatusToken,
    // A reason code, never free text: the reason travels through the lifecycle's history, where no personal data may go.
    body: requestDocument('withdrawals', z.object({ reasonCode: z.enum(WITHDRAWAL_REASONS).optional() })).optional(),
    responses: {
      200: { description: 'the application, withdrawn (an open invoice is voided)', schema: responseDocument('members', MemberAttributes) },
      404: { description: 'no application under this link (an unknown id and a wrong token answer alike)' },
      409: { description: 'MEMBER_CANNOT_WITHDRAW: the application is decided, paid or withdrawn already' },
    },
    async handler({ params, query, body }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const context = { tenantId: tenant.id, actor: 'applicant' };
      const held = await heldApplication(deps, tenant.id, params.id, query.token);
      const reason = `applicant:${body?.data.attributes.reasonCode ?? 'not_given'}`;
      // A recorded application is withdrawn by its lifecycle (a Temporal round trip and an
      // activity), a refused one by one statement: either answer waits out the same floor, so
      // its time does not tell the link's holder which it was.
      const answerNoEarlier = performance.now() + WITHDRAWAL_ANSWER_FLOOR_MS;
      try {
        if (held.member) {
          const refusal = withdrawalRefusal({ status: held.member.status, decided: false, approved: false, paid: false, invoice: null }, held.member.status);
          if (refusal) throw new MemberRuleError(refusal.code, refusal.message);
          await sendLifecycleUpdate({ client: deps.temporal, pool: deps.pool, tenantId: tenant.id, log: deps.log }, held.member.workflowId ?? memberWorkflowId(tenant.id, held.member.id), withdrawUpdate, { reason });
        } else if (!await withTenant(deps.pool, context, (tx) => withdrawRefusal(tx, params.id))) {
          // As a withdrawn member's link answers: the applicant is never told the application was refused.
          throw new MemberRuleError('MEMBER_CANNOT_WITHDRAW', 'the application is withdrawn and cannot be withdrawn');
        }
        return { status: 200, body: { data: statusResource(await heldApplication(deps, tenant.id, params.id, query.token)) } };
      } finally {
        await delay(Math.max(0, answerNoEarlier - performance.now()));
      }
    },
  });
}

export const WITHDRAWAL_REASONS = ['changed_mind', 'applied_by_mistake', 'other'] as const;
/** No withdrawal through a link is answered sooner (see the handler); above a lifecycle's usual withdrawal (about 120 ms). */
export const WITHDRAWAL_ANSWER_FLOOR_MS = 400;
export const StatusToken = z.object({ token: z.string().min(16).max(100) });

export interface HeldApplication { member: MemberView | null; refusal: RegistrationRefusal | null; place: MemberPlace }

/**
 * The application a status link names, if its token is right: a member, or a refused
 * application (which the link shows as any other). Both are read whichever holds the id, and
 * the places for an unknown id too: the answer costs the same for all three.
 * @throws ApiError 404 for an unknown id or a wrong token alike.
 */
export async function heldApplication(deps: Pick<ApiDeps, 'pool'>, tenantId: string, id: string, token: string): Promise<HeldApplication> {
  const { member, refusal, place } = await withTenant(deps.pool, { tenantId, actor: 'applicant' }, async (tx) => {
    const member = await findMember(tx, id);
    const refusal = await findRefusal(tx, id);
    const held = member ?? refusal;
    const places = await memberPlaces(tx, held ? [held] : []);
    return { member, refusal, place: held ? places(held) : undefined };
  });
  const given = createHash('sha256').update(token).digest();
  const hash = member?.statusTokenHash ?? refusal?.statusTokenHash;
  if (!hash || !timingSafeEqual(given, hash) || !place) throw ApiError.notFound('application');
  return { member, refusal, place };
}

export const statusResource = (held: HeldApplication) => (held.member ? memberResource(held.member, held.place) : refusalResource(held.refusal!, held.place));
