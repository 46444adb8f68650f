import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { findMemberIdByPhone } from '../../src/members/member-repository.ts';
import { normalizePhone } from '../../src/members/personal-data.ts';
import { memberGeographyPath } from '../../src/members/member-queries.ts';
import { approveTransferUpdate, refuseTransferUpdate, TRANSFER_REFUSAL_REASONS } from '../../src/transfers/transfer-contract.ts';
import { requestTransfer, sendTransferDecision, sendTransferLink } from '../../src/transfers/transfer-client.ts';
import { TRANSFER_LINK_TTL_MS, verifyTransferLinkToken } from '../../src/transfers/transfer-link.ts';
import { findTransfer, memberTransfers, type TransferView } from '../../src/transfers/transfers.ts';
import { slug } from '../../src/validation/fields.ts';
import { hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { partyBySlug } from '../http/tenancy.ts';

type TransferDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'clock'>;

const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

export const TransferAttributes = z.object({
  memberId: z.string(),
  seq: z.number().int().describe("the transfer's number among the member's transfers, from 1"),
  fromWardId: z.string(),
  toWardId: z.string(),
  status: z.enum(['requested', 'accepted', 'refused', 'cancelled']).describe('requested until a head decides or the window closes; cancelled when the member was no longer active, or the ward no longer valid, at the decision'),
  requestedVia: z.enum(['link', 'staff']),
  requestedAt: z.string(),
  decidesAt: z.string().describe('when the transfer is accepted unless refused before (the party\'s transfer window)'),
  decidedAt: z.string().nullable(),
  acceptedBy: z.string().nullable().describe('user:<id> of the approving head, or "window" when nobody refused in time'),
  refusedBy: z.string().nullable(),
  refusalReason: z.enum(TRANSFER_REFUSAL_REASONS).nullable(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function transferResource(t: TransferView) {
  return {
    type: 'transfers', id: t.id,
    attributes: {
      memberId: t.memberId, seq: t.seq, fromWardId: t.fromWardId, toWardId: t.toWardId, status: t.status, requestedVia: t.requestedVia,
      requestedAt: iso(t.requestedAt)!, decidesAt: iso(t.decidesAt)!, decidedAt: iso(t.decidedAt), acceptedBy: t.acceptedBy, refusedBy: t.refusedBy,
      refusalReason: t.refusalReason as z.infer<typeof TransferAttributes>['refusalReason'],
    },
  };
}

const TransferDocument = responseDocument('transfers', TransferAttributes);
const TransferRequest = requestDocument('transfers', z.object({ toWardId: z.uuid().describe('the ward the member moves to: a ward valid today') }));
const Id = z.object({ id: z.uuid() });

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
      return { status: 201, body: { data: transferResource(transfer) } };
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
        return { status: 200, body: { data: (await memberTransfers(tx, params.id)).map(transferResource) } };
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
    const decided = await inTenant(auth, (tx) => findTransfer(tx, transferId));
    return { status: 200, body: { data: transferResource(decided ?? transfer) } };
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
      return { status: 201, body: { data: transferResource(transfer) } };
    },
  });
}
