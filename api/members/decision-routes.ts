import { text } from '../../src/validation/fields.ts';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { memberWorkflowId, approveUpdate, rejectUpdate } from '../../workflows/members/messages.ts';
import type { ApiDeps } from '../app.ts';
import { headsAreaOf, type AuthContext } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry, RouteInput } from '../http/route.ts';
import { memberResource } from './presenter.ts';

const Id = z.object({ id: z.uuid() });
const Decided = responseDocument('members', z.object({ status: z.string(), lifecycleStatus: z.string() }).loose());

/**
 * Loads the member (404 when it is not in the caller's tenant) and checks the caller heads a
 * committee whose area contains the member's ward (403 otherwise).
 */
async function memberToDecide(deps: ApiDeps, auth: AuthContext, memberId: string) {
  const member = await withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, (tx) => findMember(tx, memberId));
  if (!member) throw ApiError.notFound('member');
  if (!headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden("only a head of a committee covering the member's ward may decide");
  return member;
}

async function decide(deps: ApiDeps, input: RouteInput<z.ZodObject, z.ZodObject, z.ZodType>, send: (workflowId: string, by: string) => Promise<unknown>) {
  const auth = input.auth!;
  const member = await memberToDecide(deps, auth, (input.params as { id: string }).id);
  try {
    await send(member.workflowId ?? memberWorkflowId(auth.tenantId, member.id), `user:${auth.userId}`);
  } catch (err) {
    if (err instanceof MemberRuleError) throw new ApiError(409, err.code, err.message);
    throw err;
  }
  const updated = await withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, (tx) => findMember(tx, member.id));
  return { status: 200, body: { data: memberResource(updated ?? member) } };
}

export function decisionRoutes(registry: RouteRegistry, deps: ApiDeps): void {
  registry.add({
    method: 'post',
    path: '/api/members/:id/approve',
    summary: "Approve an application (heads of a committee covering the member's ward)",
    tag: 'members',
    access: 'user',
    params: Id,
    body: requestDocument('approvals', z.object({ note: text(0, 1000).optional() })),
    responses: { 200: { description: 'the approved member', schema: Decided } },
    handler: (input) => decide(deps, input, (workflowId, by) =>
      sendLifecycleUpdate(deps.temporal, workflowId, approveUpdate, { by, note: input.body.data.attributes.note ?? null })),
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
    handler: (input) => decide(deps, input, (workflowId, by) =>
      sendLifecycleUpdate(deps.temporal, workflowId, rejectUpdate, { by, reason: input.body.data.attributes.reason })),
  });
}
