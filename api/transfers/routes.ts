import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { findMember, findMembers } from '../../src/members/member-queries.ts';
import { memberPlaces } from '../../src/members/member-places.ts';
import { findMemberIdByPhone } from '../../src/members/member-repository.ts';
import { normalizePhone } from '../../src/members/personal-data.ts';
import { memberGeographyPath } from '../../src/members/member-queries.ts';
import { approveTransferUpdate, refuseTransferUpdate, TRANSFER_REFUSAL_REASONS } from '../../src/transfers/transfer-contract.ts';
import { requestTransfer, sendTransferDecision, sendTransferLink } from '../../src/transfers/transfer-client.ts';
import { TRANSFER_LINK_TTL_MS, verifyTransferLinkToken } from '../../src/transfers/transfer-link.ts';
import { findTransfer, memberTransfers, searchTransfers, type TransferView } from '../../src/transfers/transfers.ts';
import { slug } from '../../src/validation/fields.ts';
import { hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { relation, requestDocument, responseDocument } from '../http/jsonapi.ts';
import { encodeKeysetCursor, KeysetPage } from '../http/keyset-cursor.ts';
import { memberResource } from '../members/presenter.ts';
import type { RouteRegistry } from '../http/route.ts';
import { partyBySlug } from '../http/tenancy.ts';

type TransferDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'clock'>;

const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

const TRANSFER_STATUSES = ['requested', 'accepted', 'refused', 'cancelled'] as const;
const WardName = z.object({ en: z.string(), ne: z.string().nullable() });

export const TransferAttributes = z.object({
  memberId: z.string(),
  seq: z.number().int().describe("the transfer's number among the member's transfers, from 1"),
  fromWardId: z.string(),
  toWardId: z.string(),
  status: z.enum(TRANSFER_STATUSES).describe('requested until a head decides or the window closes; cancelled when the member was no longer active, or the ward no longer valid, at the decision'),
  requestedVia: z.enum(['link', 'staff']),
  requestedAt: z.string(),
  decidesAt: z.string().describe('when the transfer is accepted unless refused before (the party\'s transfer window)'),
  decidedAt: z.string().nullable(),
  acceptedBy: z.string().nullable().describe('user:<id> of the approving head, or "window" when nobody refused in time'),
  refusedBy: z.string().nullable(),
  refusalReason: z.enum(TRANSFER_REFUSAL_REASONS).nullable(),
  fromWardName: WardName.describe('the ward the member leaves, by name'),
  toWardName: WardName.describe('the ward the member moves to, by name'),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The transfers as resources, their wards named (two queries for any number of transfers). */
async function transferResources(tx: TenantTransaction, transfers: readonly TransferView[]) {
  const places = await memberPlaces(tx, transfers.flatMap((t) => [{ wardId: t.fromWardId, committeeId: null }, { wardId: t.toWardId, committeeId: null }]));
  return transfers.map((t) => ({
    type: 'transfers' as const, id: t.id,
    attributes: {
      memberId: t.memberId, seq: t.seq, fromWardId: t.fromWardId, toWardId: t.toWardId, status: t.status, requestedVia: t.requestedVia,
      requestedAt: iso(t.requestedAt)!, decidesAt: iso(t.decidesAt)!, decidedAt: iso(t.decidedAt), acceptedBy: t.acceptedBy, refusedBy: t.refusedBy,
      refusalReason: t.refusalReason as z.infer<typeof TransferAttributes>['refusalReason'],
      fromWardName: places({ wardId: t.fromWardId, committeeId: null }).wardName, toWardName: places({ wardId: t.toWardId, committeeId: null }).wardName,
    },
    relationships: { member: relation('members', t.memberId) },
  }));
}

const transferResource = async (tx: TenantTransaction, transfer: TransferView) => (await transferResources(tx, [transfer]))[0]!;

const TransferDocument = responseDocument('transfers', TransferAttributes);
const TransferRequest = requestDocument('transfers', z.object({ toWardId: z.uuid().describe('the ward the member moves to: a ward valid today') }));
const Id = z.object({ id: z.uuid() });
const TransferSearchQuery = z.object({
  filter: z.object({ status: z.enum(TRANSFER_STATUSES).optional().describe('`requested`: those waiting for a decision') }).strict().optional(),
  page: KeysetPage,
  include: z.literal('member').optional().describe('`member`: the members moving, by name and ward, in `included`'),
}).strict();

export function transferRoutes(registry: RouteRegistry, deps: TransferDeps): void {
  const inTenant = <T>(auth: AuthContext, work: Parameters<typeof withTenant<T>>[2]) =>
    withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, work);

  registry.add({
    method: 'post',
    path: '/api/members/:id/transfers',
    summary: "Ask, on the member's behalf, to move an active member to another ward (tenant_admin, registrar); a head covering the destination decides, or the party's transfer window accepts it",
    tag: 'transfers',
    access: 'user',
    params: Id,
    body: TransferRequest,
    responses: { 201: { description: 'the transfer, requested; 409 TRANSFER_ALREADY_OPEN while another waits, MEMBER_NOT_ACTIVE for a member not active', schema: TransferDocument } },
    async handler({ params, body, auth }) {
      if (!hasRole(auth, 'tenant_admin', 'registrar')) throw ApiError.forbidden('asking for a transfer on a member\'s behalf needs the tenant_admin or registrar role');
      const transfer = await requestTransfer({ client: deps.temporal, pool: deps.pool }, { tenantId: auth.tenantId, actor: `user:${auth.userId}` },
        { memberId: params.id, toWardId: body.data.attributes.toWardId, via: 'staff', requestedBy: `user:${auth.userId}` });
      if (!transfer) throw ApiError.notFound('member');
      return { status: 201, body: { data: await inTenant(auth, (tx) => transferResource(tx, transfer)) } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/members/:id/transfers',
    summary: "A member's transfers, oldest first (staff, or heads of a committee covering the member's ward)",
    tag: 'transfers',
    access: 'user',
    params: Id,
    responses: { 200: { description: "the member's transfers", schema: z.object({ data: z.array(TransferDocument.shape.data) }) } },
    async handler({ params, auth }) {
      return inTenant(auth, async (tx) => {
        const path = await memberGeographyPath(tx, params.id);
        if (path === null) throw ApiError.notFound('member');
        if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, path)) throw ApiError.forbidden('not your area');
        return { status: 200, body: { data: await transferResources(tx, await memberTransfers(tx, params.id)) } };
      });
    },
  });

  registry.add({
    method: 'get',
    path: '/api/transfers',
    summary: "The party's transfers, oldest request first (staff); a head sees those into their areas, the ones they decide: filter[status]=requested is their inbox",
    tag: 'transfers',
    access: 'user',
    query: TransferSearchQuery,
    responses: { 200: { description: 'a page of transfers, oldest request first', schema: z.object({ data: z.array(TransferDocument.shape.data), included: z.array(z.unknown()).optional(), links: z.object({ next: z.string().nullable() }) }) } },
    async handler({ query, auth }) {
      const staff = hasRole(auth, ...STAFF);
      if (!staff && auth.headships.length === 0) throw ApiError.forbidden('listing transfers needs a staff role or a committee headship');
      const size = query.page?.size ?? 25;
      return inTenant(auth, async (tx) => {
        const found = await searchTransfers(tx, {
          status: query.filter?.status, toWithinPaths: staff ? undefined : auth.headships.map((h) => h.geographyPath),
          after: query.page?.cursor && { requestedAt: query.page.cursor.at, id: query.page.cursor.id }, limit: size + 1,
        });
        const page = found.slice(0, size);
        const last = page.at(-1);
        const next = found.length > size && last ? `/api/transfers?${new URLSearchParams({
          ...(query.filter?.status ? { 'filter[status]': query.filter.status } : {}), 'page[size]': String(size),
          'page[cursor]': encodeKeysetCursor(last.position, last.id), ...(query.include ? { include: query.include } : {}),
        }).toString()}` : null;
        const members = query.include ? await findMembers(tx, [...new Set(page.map((t) => t.memberId))]) : [];
        const places = await memberPlaces(tx, members);
        return { status: 200, body: { data: await transferResources(tx, page), ...(query.include ? { included: members.map((m) => memberResource(m, places(m))) } : {}), links: { next } } };
      });
    },
  });

  /** A head's decision: the transfer must be in the caller's tenant (404) and its destination in an area the caller heads (403). */
  async function decide(auth: AuthContext, transferId: string, send: (workflowId: string, by: string) => Promise<unknown>) {
    const transfer = await inTenant(auth, (tx) => findTransfer(tx, transferId));
    if (!transfer) throw ApiError.notFound('transfer');
    if (!headsAreaOf(auth, transfer.toPath)) throw ApiError.forbidden('only a head of a committee covering the destination ward may decide a transfer');
    if (transfer.status !== 'requested') throw new ApiError('TRANSFER_DECIDED', `the transfer is already ${transfer.status}`);
    await send(transfer.workflowId, `user:${auth.userId}`);
    const data = await inTenant(auth, async (tx) => transferResource(tx, (await findTransfer(tx, transferId)) ?? transfer));
    return { status: 200, body: { data } };
  }

  registry.add({
    method: 'post',
    path: '/api/transfers/:id/approve',
    summary: 'Approve a transfer (heads of a committee covering the destination ward): the member moves at once',
    tag: 'transfers',
    access: 'user',
    params: Id,
    responses: { 200: { description: 'the transfer, accepted (409 TRANSFER_DECIDED when already decided)', schema: TransferDocument } },
    handler: ({ params, auth }) => decide(auth, params.id, (workflowId, by) => sendTransferDecision(deps.temporal, workflowId, approveTransferUpdate, { by })),
  });

  registry.add({
    method: 'post',
    path: '/api/transfers/:id/refuse',
    summary: 'Refuse a transfer, with a reason code (heads of a committee covering the destination ward)',
    tag: 'transfers',
    access: 'user',
    params: Id,
    body: requestDocument('transfer-refusals', z.object({ reasonCode: z.enum(TRANSFER_REFUSAL_REASONS).describe("a word from the list (it enters the member's event history)") })),
    responses: { 200: { description: 'the transfer, refused (409 TRANSFER_DECIDED when already decided)', schema: TransferDocument } },
    handler: ({ params, body, auth }) => decide(auth, params.id, (workflowId, by) =>
      sendTransferDecision(deps.temporal, workflowId, refuseTransferUpdate, { by, reasonCode: body.data.attributes.reasonCode })),
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/transfer-links',
    summary: 'A member asks for their private transfer link: emailed to the address on record, if an active member holds the phone; the answer is the same either way',
    tag: 'transfers',
    access: 'public',
    params: z.object({ slug }),
    body: requestDocument('transfer-links', z.object({ phone: z.string().trim().min(6).max(32) })),
    responses: { 202: { description: 'taken: a link goes to the email of the active member holding the phone, if any (at most one an hour)', schema: z.object({ meta: z.object({ message: z.string() }) }) } },
    async handler({ params, body }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      let phone: string | null = null;
      try {
        phone = normalizePhone(body.data.attributes.phone);
      } catch {
        throw new ApiError('INVALID_PHONE', 'not a valid phone number', { pointer: '/data/attributes/phone' });
      }
      const memberId = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'member' }, async (tx) => {
        const id = await findMemberIdByPhone(tx, await deps.keyring.forTenant(tx, tenant.id), phone);
        const member = id ? await findMember(tx, id) : null;
        return member?.status === 'active' ? member.id : null;
      });
      const now = deps.clock();
      if (memberId) await sendTransferLink(deps.temporal, tenant.id, memberId, now, new Date(now.getTime() + TRANSFER_LINK_TTL_MS));
      return { status: 202, body: { meta: { message: 'if an active member of the party holds this phone, a transfer link is on its way to their email' } } };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/members/:id/transfers',
    summary: "A member asks to move to another ward, through the private link emailed to them; a head covering the destination decides, or the party's transfer window accepts it",
    tag: 'transfers',
    access: 'public',
    params: z.object({ slug, id: z.uuid() }),
    query: z.object({ token: z.string().min(16).max(100) }),
    body: TransferRequest,
    responses: { 201: { description: 'the transfer, requested (404 for a link that is wrong or expired)', schema: TransferDocument } },
    async handler({ params, query, body }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const keys = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'member' }, (tx) => deps.keyring.forTenant(tx, tenant.id));
      if (!verifyTransferLinkToken(keys, params.id, query.token, deps.clock())) throw ApiError.notFound('member');
      const transfer = await requestTransfer({ client: deps.temporal, pool: deps.pool }, { tenantId: tenant.id, actor: `member:${params.id}` },
        { memberId: params.id, toWardId: body.data.attributes.toWardId, via: 'link', requestedBy: `member:${params.id}` });
      if (!transfer) throw ApiError.notFound('member');
      const data = await withTenant(deps.pool, { tenantId: tenant.id, actor: `member:${params.id}` }, (tx) => transferResource(tx, transfer));
      return { status: 201, body: { data } };
    },
  });
}
