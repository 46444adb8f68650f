import { z } from 'zod';
import { parentCommittee } from '../../src/committees/committees.ts';
import { withTenant, type TenantContext } from '../../src/db/tenant-context.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { pendingExpulsions, type PendingExpulsion } from '../../src/members/expulsion-proposals.ts';
import { findMember, findMembers, type MemberView } from '../../src/members/member-queries.ts';
import { loadMember } from '../../src/members/member-store.ts';
import { findActiveMemberIdByEmail } from '../../src/members/status-change-store.ts';
import { checkResignationToken } from '../../src/members/resignation-link.ts';
import { confirmUpdate, liftUpdate } from '../../src/members/status-change-contract.ts';
import { requestResignationLink, startStatusChange, updateLatestChange } from '../../src/members/status-change-client.ts';
import { DISCIPLINE_REASONS, RESIGNATION_REASONS } from '../../src/members/status-change-rules.ts';
import { isoDateTime, text } from '../../src/validation/fields.ts';
import { coveringHeadships, hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { relation, requestDocument, responseDocument } from '../http/jsonapi.ts';
import { encodeKeysetCursor, KeysetPage } from '../http/keyset-cursor.ts';
import type { RouteRegistry } from '../http/route.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { slug } from '../../src/validation/fields.ts';
import { MemberAttributes, memberResource } from './presenter.ts';
import { memberPlaces } from '../../src/members/member-places.ts';

type StatusDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'publicBaseUrl' | 'clock' | 'log'>;

const Id = z.object({ id: z.uuid() });
const Changed = responseDocument('members', MemberAttributes);
const Note = text(3, 1000).optional().describe("a staff note, kept in the member's row and its audit trail only (never in the event stream)");
/** A resignation link is good for this long. */
const RESIGNATION_LINK_VALID_MS = 7 * 24 * 3600 * 1000;
/** A suspension ends within this long (five years). */
const LONGEST_SUSPENSION_MS = 5 * 366 * 24 * 3600 * 1000;

const STAFF_FOR_RECORDS = ['tenant_admin', 'registrar'] as const;

const ProposalDocument = responseDocument('expulsion-proposals', z.object({
  memberId: z.string(),
  reasonCode: z.enum(DISCIPLINE_REASONS),
  proposedBy: z.string().describe('user:<id> of the proposing head'),
  proposedAt: z.string(),
  committeeName: z.string().describe('the proposing committee; a head of the committee above it confirms'),
}));

function proposalResource(p: PendingExpulsion) {
  return {
    type: 'expulsion-proposals' as const, id: p.memberId,
    attributes: {
      memberId: p.memberId, reasonCode: p.reasonCode as (typeof DISCIPLINE_REASONS)[number], proposedBy: p.proposedBy,
      proposedAt: new Date(p.proposedAt).toISOString(), committeeName: p.committeeName,
    },
    relationships: { member: relation('members', p.memberId), committee: relation('committees', p.committeeId) },
  };
}

export function statusChangeRoutes(registry: RouteRegistry, deps: StatusDeps): void {
  const client = { client: deps.temporal, pool: deps.pool };
  const contextOf = (auth: AuthContext): TenantContext => ({ tenantId: auth.tenantId, actor: `user:${auth.userId}` });

  /** The member, in the caller's tenant (404 otherwise), and the caller allowed by `allowed` (403 otherwise). */
  async function memberFor(auth: AuthContext, memberId: string, allowed: (member: MemberView) => boolean, why: string): Promise<MemberView> {
    const member = await withTenant(deps.pool, contextOf(auth), (tx) => findMember(tx, memberId));
    if (!member) throw ApiError.notFound('member');
    if (!allowed(member)) throw ApiError.forbidden(why);
    return member;
  }

  async function answer(auth: AuthContext, memberId: string) {
    return withTenant(deps.pool, contextOf(auth), async (tx) => {
      const member = (await findMember(tx, memberId))!;
      return { status: 200, body: { data: memberResource(member, (await memberPlaces(tx, [member]))(member)) } };
    });
  }

  const headOrAdmin = (auth: AuthContext) => (member: MemberView) => hasRole(auth, 'tenant_admin') || headsAreaOf(auth, member.geographyPath);

  registry.add({
    method: 'post',
    path: '/api/members/:id/suspensions',
    summary: "Suspend an active member until a date (heads of a committee covering the member's ward, or the party's tenant_admin); the card is revoked, and the suspension ends by itself on that date",
    tag: 'status-changes',
    access: 'user',
    params: Id,
    body: requestDocument('suspensions', z.object({
      until: isoDateTime.describe('when the suspension ends by itself: in the future, within five years'),
      reasonCode: z.enum(DISCIPLINE_REASONS),
      note: Note,
    })),
    responses: { 200: { description: 'the suspended member (409 MEMBER_NOT_ACTIVE when not active)', schema: Changed } },
    async handler({ params, body, auth }) {
      const { until, reasonCode, note } = body.data.attributes;
      const ends = Date.parse(until) - deps.clock().getTime();
      if (ends <= 0 || ends > LONGEST_SUSPENSION_MS) {
        throw new ApiError('VALIDATION_FAILED', 'until must be in the future and within five years', { pointer: '/data/attributes/until' });
      }
      await memberFor(auth, params.id, headOrAdmin(auth), "only a head of a committee covering the member's ward, or the party's tenant_admin, may suspend");
      await startStatusChange(client, contextOf(auth), params.id,
        { kind: 'suspension', by: `user:${auth.userId}`, until: new Date(until).toISOString(), reasonCode, note: note ?? null });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/suspensions/lift',
    summary: 'Lift a suspension before its end (the same people who may suspend); the member is active again and gets a new card',
    tag: 'status-changes',
    access: 'user',
    params: Id,
    responses: { 200: { description: 'the member, active again (409 MEMBER_NOT_SUSPENDED when not suspended)', schema: Changed } },
    async handler({ params, auth }) {
      const member = await memberFor(auth, params.id, headOrAdmin(auth), "only a head of a committee covering the member's ward, or the party's tenant_admin, may lift a suspension");
      const notSuspended = () => new MemberRuleError('MEMBER_NOT_SUSPENDED', `the member is ${member.status}, not suspended`);
      if (member.status !== 'suspended') throw notSuspended();
      await updateLatestChange(client, contextOf(auth), params.id, 'suspension', liftUpdate, notSuspended, { by: `user:${auth.userId}` });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/expulsion-proposals',
    summary: "Propose an active member's expulsion (heads of a committee covering the member's ward); a head of the parent committee must confirm it",
    tag: 'status-changes',
    access: 'user',
    params: Id,
    body: requestDocument('expulsion-proposals', z.object({ reasonCode: z.enum(DISCIPLINE_REASONS), note: Note })),
    responses: { 200: { description: 'the member, still active, with the proposal recorded (409 EXPULSION_ALREADY_PROPOSED, MEMBER_NOT_ACTIVE)', schema: Changed } },
    async handler({ params, body, auth }) {
      const member = await memberFor(auth, params.id, (m) => headsAreaOf(auth, m.geographyPath), "only a head of a committee covering the member's ward may propose an expulsion");
      // The proposer acts as head of their nearest committee covering the ward; its parent's heads confirm.
      const covering = coveringHeadships(auth, member.geographyPath).sort((a, b) => b.geographyPath.length - a.geographyPath.length)[0]!;
      const { reasonCode, note } = body.data.attributes;
      await startStatusChange(client, contextOf(auth), params.id,
        { kind: 'expulsion', by: `user:${auth.userId}`, reasonCode, committeeId: covering.committeeId, note: note ?? null });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'get',
    path: '/api/expulsion-proposals',
    summary: "Expulsions proposed and waiting for confirmation, oldest first: a head sees those they may confirm (heads of the parent committee of the proposing committee, never their own proposals); the party's tenant_admin sees all",
    tag: 'status-changes',
    access: 'user',
    query: z.object({
      page: KeysetPage,
      include: z.literal('member').optional().describe('`member`: the members proposed for expulsion, by name and ward, in `included`'),
    }).strict(),
    responses: { 200: { description: 'a page of pending proposals, oldest first; each has the id of its member', schema: z.object({ data: z.array(ProposalDocument.shape.data), included: z.array(z.unknown()).optional(), links: z.object({ next: z.string().nullable() }) }) } },
    async handler({ query, auth }) {
      const admin = hasRole(auth, 'tenant_admin');
      if (!admin && auth.headships.length === 0) throw ApiError.forbidden('listing expulsion proposals needs a committee headship or the tenant_admin role');
      const size = query.page?.size ?? 25;
      return withTenant(deps.pool, contextOf(auth), async (tx) => {
        const found = await pendingExpulsions(tx, {
          confirmedByCommittees: admin ? undefined : auth.headships.map((h) => h.committeeId), notProposedBy: admin ? undefined : `user:${auth.userId}`,
          after: query.page?.cursor && { proposedAt: query.page.cursor.at, memberId: query.page.cursor.id }, limit: size + 1,
        });
        const page = found.slice(0, size);
        const last = page.at(-1);
        const next = found.length > size && last ? `/api/expulsion-proposals?${new URLSearchParams({
          'page[size]': String(size), 'page[cursor]': encodeKeysetCursor(last.position, last.memberId), ...(query.include ? { include: query.include } : {}),
        }).toString()}` : null;
        const members = query.include ? await findMembers(tx, page.map((p) => p.memberId)) : [];
        const places = await memberPlaces(tx, members);
        return {
          status: 200,
          body: { data: page.map(proposalResource), ...(query.include ? { included: members.map((m) => memberResource(m, places(m))) } : {}), links: { next } },
        };
      });
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/expulsion-proposals/confirm',
    summary: 'Confirm a proposed expulsion (heads of the parent committee of the proposing committee; never the proposer): the member is expelled, finally, and the card revoked',
    tag: 'status-changes',
    access: 'user',
    params: Id,
    body: requestDocument('expulsion-confirmations', z.object({ note: Note })).optional(),
    responses: { 200: { description: 'the expelled member (409 EXPULSION_NOT_PROPOSED, EXPULSION_SAME_PERSON, MEMBER_NOT_ACTIVE)', schema: Changed } },
    async handler({ params, body, auth }) {
      const context = contextOf(auth);
      const found = await withTenant(deps.pool, context, async (tx) => {
        const member = await findMember(tx, params.id);
        if (!member) return null;
        const proposal = (await loadMember(tx, params.id)).expulsionProposal;
        return { member, proposal, parent: proposal ? await parentCommittee(tx, proposal.committeeId) : null };
      });
      if (!found) throw ApiError.notFound('member');
      const { member, proposal, parent } = found;
      // Only heads may learn whether a proposal is pending.
      if (!headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden('only a head of the parent committee of the proposing committee may confirm an expulsion');
      if (!proposal) throw new MemberRuleError('EXPULSION_NOT_PROPOSED', 'no expulsion of this member is proposed');
      if (proposal.by === context.actor) throw new MemberRuleError('EXPULSION_SAME_PERSON', 'the head who proposed the expulsion cannot confirm it: a head of the parent committee must');
      if (!parent || !auth.headships.some((h) => h.committeeId === parent.id)) {
        throw ApiError.forbidden('only a head of the parent committee of the proposing committee may confirm an expulsion');
      }
      // Refused here, before the workflow: a confirmation it refused as not active would end it and void the proposal.
      if (member.status !== 'active') throw new MemberRuleError('MEMBER_NOT_ACTIVE', `the member is ${member.status}: an expulsion is confirmed only while the member is active`);
      await updateLatestChange(client, context, params.id, 'expulsion', confirmUpdate,
        () => new MemberRuleError('EXPULSION_NOT_PROPOSED', 'no expulsion of this member is proposed'),
        { by: context.actor, note: body?.data.attributes.note ?? null });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/resignations',
    summary: "Record an active member's resignation on their behalf (tenant_admin, registrar); the card is revoked",
    tag: 'status-changes',
    access: 'user',
    params: Id,
    body: requestDocument('resignations', z.object({ reasonCode: z.enum(RESIGNATION_REASONS), note: Note })),
    responses: { 200: { description: 'the resigned member (409 MEMBER_NOT_ACTIVE)', schema: Changed } },
    async handler({ params, body, auth }) {
      await memberFor(auth, params.id, () => hasRole(auth, ...STAFF_FOR_RECORDS), 'only tenant_admin or registrar may record a resignation on a member\'s behalf');
      const { reasonCode, note } = body.data.attributes;
      await startStatusChange(client, contextOf(auth), params.id, { kind: 'resignation', by: `user:${auth.userId}`, via: 'staff', reasonCode, note: note ?? null });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/death',
    summary: "Record a member's death (tenant_admin, registrar); the card is revoked",
    tag: 'status-changes',
    access: 'user',
    params: Id,
    // Required: a death is recorded on some word (and a request without one changes nothing).
    body: requestDocument('deaths', z.object({ note: text(3, 1000).describe("how the death was learned of; kept in the member's row and its audit trail only") })),
    responses: { 200: { description: 'the member, deceased (409 MEMBER_NOT_ACTIVE when not active, suspended or lapsed)', schema: Changed } },
    async handler({ params, body, auth }) {
      await memberFor(auth, params.id, () => hasRole(auth, ...STAFF_FOR_RECORDS), "only tenant_admin or registrar may record a member's death");
      await startStatusChange(client, contextOf(auth), params.id, { kind: 'death', by: `user:${auth.userId}`, note: body.data.attributes.note });
      return answer(auth, params.id);
    },
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/resignation-links',
    summary: 'A member asks for a resignation link: it is emailed to the address on record (at most once a day); the answer is the same whether or not the address belongs to a member',
    tag: 'status-changes',
    access: 'public',
    params: z.object({ slug }),
    body: requestDocument('resignation-link-requests', z.object({ email: z.email().max(254) })),
    responses: { 202: { description: 'taken: if the address is an active member\'s, a link is on its way', schema: z.object({ meta: z.object({ message: z.string() }) }) } },
    async handler({ params, body }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const memberId = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'member' }, async (tx) => {
        const keys = await deps.keyring.forTenant(tx, tenant.id);
        return findActiveMemberIdByEmail(tx, keys, body.data.attributes.email);
      });
      if (memberId) {
        const now = deps.clock();
        // Not awaited: a member's address and any other are answered after the same one lookup.
        requestResignationLink({ client: deps.temporal }, tenant.id, memberId, {
          expiresAt: new Date(now.getTime() + RESIGNATION_LINK_VALID_MS).toISOString(),
          linkBase: `${deps.publicBaseUrl ?? ''}/api/parties/${tenant.slug}/resignations`,
          day: now.toISOString().slice(0, 10),
        }).catch((err: unknown) => deps.log.error({ err, tenantId: tenant.id }, 'resignation link not started'));
      }
      return { status: 202, body: { meta: { message: 'if this address belongs to an active member, a resignation link has been emailed to it' } } };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/resignations',
    summary: 'A member resigns through the signed link emailed to them (its member, expires and token, with a reason); the card is revoked',
    tag: 'status-changes',
    access: 'public',
    params: z.object({ slug }),
    body: requestDocument('resignations', z.object({
      member: z.uuid(),
      expires: isoDateTime,
      token: z.string().min(16).max(100),
      reasonCode: z.enum(RESIGNATION_REASONS),
    })),
    responses: { 200: { description: 'the resignation is recorded (422 TOKEN_BAD_SIGNATURE, TOKEN_EXPIRED; 404 when the party has no such member; 409 MEMBER_NOT_ACTIVE)', schema: responseDocument('resignations', z.object({ status: z.literal('resigned') })) } },
    async handler({ params, body }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const { member, expires, token, reasonCode } = body.data.attributes;
      const context = { tenantId: tenant.id, actor: `member:${member}` };
      const keys = await withTenant(deps.pool, context, (tx) => deps.keyring.forTenant(tx, tenant.id));
      checkResignationToken(keys, tenant.id, member, expires, token, deps.clock());
      if (!(await withTenant(deps.pool, context, (tx) => findMember(tx, member)))) throw ApiError.notFound('member');
      await startStatusChange(client, context, member,
        { kind: 'resignation', by: `member:${member}`, via: 'link', reasonCode, note: null });
      return { status: 200, body: { data: { type: 'resignations', id: member, attributes: { status: 'resigned' as const } } } };
    },
  });
}
