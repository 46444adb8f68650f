import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { approveUpdate, memberWorkflowId, rejectUpdate } from '../../src/members/lifecycle-contract.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { text } from '../../src/validation/fields.ts';
import { headsAreaOf, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { MemberAttributes, memberResource } from './presenter.ts';
import { memberPlaces } from '../../src/members/member-places.ts';

type ApprovalDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'log'>;

const Id = z.object({ id: z.uuid() });
const Decided = responseDocument('members', MemberAttributes);

/** How long an approval's answer waits for the lifecycle to issue the invoice, and how often it looks. */
export const SETTLE_WAIT_MS = 10_000;
const SETTLE_POLL_MS = 50;

/**
 * The head's decision: the member must be in the caller's tenant (404 otherwise) and its ward
 * inside a committee the caller heads (403). The lifecycle accepts it or refuses it (409
 * MEMBER_NOT_AWAITING_APPROVAL); the answer is the member as recorded after it. A lifecycle
 * started before the lifecycle-merged-steps patch records the approval first and issues the
 * invoice just after (the status moves from awaiting_approval to awaiting_payment then): the
 * answer waits for that, up to SETTLE_WAIT_MS, so a head never reads an approved member as still
 * awaiting approval. Since the patch both are one transaction and the approve Update answers
 * once it is recorded, so the first read finds awaiting_payment.
 */
async function decide(deps: ApprovalDeps, auth: AuthContext, memberId: string, send: (workflowId: string, by: string) => Promise<unknown>) {
  const context = { tenantId: auth.tenantId, actor: `user:${auth.userId}` };
  const member = await withTenant(deps.pool, context, (tx) => findMember(tx, memberId));
  if (!member) throw ApiError.notFound('member');
  if (!headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden("only a head of a committee covering the member's ward may decide");
  await send(member.workflowId ?? memberWorkflowId(auth.tenantId, member.id), `user:${auth.userId}`);
  const read = () => withTenant(deps.pool, context, (tx) => findMember(tx, member.id));
  let updated = await read();
  for (const until = Date.now() + SETTLE_WAIT_MS; updated?.status === 'awaiting_approval' && Date.now() < until;) {
    await delay(SETTLE_POLL_MS);
    updated = await read();
  }
  const answer = updated ?? member;
  return withTenant(deps.pool, context, async (tx) => {
    const keys = await deps.keyring.forTenant(tx, auth.tenantId);
    return { status: 200, body: { data: memberResource(answer, (await memberPlaces(tx, [answer]))(answer), keys, { personal: true }) } };
  });
}

export function approvalRoutes(registry: RouteRegistry, deps: ApprovalDeps): void {
  registry.add({
    method: 'post',
    path: '/api/members/:id/approve',
    summary: "Approve an application (heads of a committee covering the member's ward)",
    tag: 'members',
    access: 'user',
    params: Id,
    // The note is optional, and so is the whole body: a head may approve with an empty POST.
    body: requestDocument('approvals', z.object({ note: text(0, 1000).optional() })).optional(),
    responses: { 200: { description: 'the approved member', schema: Decided } },
    handler: ({ params, body, auth }) => decide(deps, auth, params.id, (workflowId, by) =>
      sendLifecycleUpdate({ client: deps.temporal, pool: deps.pool, tenantId: auth.tenantId, log: deps.log }, workflowId, approveUpdate, { by, note: body?.data.attributes.note ?? null })),
  });
  registry.add({
    method: 'post',
    path: '/api/members/:id/reject',
    summary: "Reject an application (heads of a committee covering the member's ward)",
    tag: 'members',
    access: 'user',
    params: Id,
    body: requestDocument('rejections', z.object({ reason: text(3, 1000) })),
    responses: { 200: { description: 'the rejected member', schema: Decided } },
    handler: ({ params, body, auth }) => decide(deps, auth, params.id, (workflowId, by) =>
      sendLifecycleUpdate({ client: deps.temporal, pool: deps.pool, tenantId: auth.tenantId, log: deps.log }, workflowId, rejectUpdate, { by, reason: body.data.attributes.reason })),
  });
}
