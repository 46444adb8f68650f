import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readMemberHistory } from '../../src/members/member-history.ts';
import { findMember } from '../../src/members/member-queries.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import type { RouteRegistry } from '../http/route.ts';

const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

const MemberEventResource = z.object({
  type: z.literal('member-events'),
  id: z.string().describe('<member id>:<version>'),
  attributes: z.object({
    version: z.number().int().describe("the event's place in the member's stream, from 1"),
    eventType: z.string().describe('past tense, e.g. MemberRegistered, MemberApproved, MemberActivated, MemberSuspended'),
    recordedAt: z.string().describe('when the event was recorded (RFC 3339, UTC)'),
    actor: z.string().nullable().describe('who caused it: user:<id>, workflow:<id>, cli:<operator>, applicant, ...'),
    data: z.record(z.string(), z.unknown()).describe("the event's ids, amounts, dates and reason codes; never free text or personal data"),
  }),
  relationships: z.object({ member: z.object({ data: z.object({ type: z.literal('members'), id: z.string() }) }) }),
});
const MemberHistoryDocument = z.object({ data: z.array(MemberEventResource) });

export function historyRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool'>): void {
  registry.add({
    method: 'get',
    path: '/api/members/:id/history',
    summary: "A member's events in order, who caused each and when (staff, or heads of a committee covering the member; as GET /api/members/{id})",
    tag: 'members',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    query: z.object({}).strict(),
    responses: { 200: { description: "the member's events, oldest first", schema: MemberHistoryDocument } },
    async handler({ params, auth }) {
      return withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, async (tx) => {
        const member = await findMember(tx, params.id);
        if (!member) throw ApiError.notFound('member');
        if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden('not your area');
        const events = await readMemberHistory(tx, member.id);
        return {
          status: 200,
          body: {
            data: events.map((event) => ({
              type: 'member-events',
              id: `${member.id}:${event.version}`,
              attributes: { version: event.version, eventType: event.type, recordedAt: event.recordedAt, actor: event.actor, data: event.data },
              relationships: { member: { data: { type: 'members', id: member.id } } },
            })),
          },
        };
      });
    },
  });
}
