import { z } from 'zod';
import { findGeographyNode, type GeographyView } from '../../src/geography/geography-queries.ts';
import { MEMBER_STATUSES, type MemberStatus } from '../../src/members/member-status.ts';
import { readNodeStatistics, type GeographyStatistics as SubtreeCounts } from '../../src/statistics/member-statistics.ts';
import { readStatisticsAsOf } from '../../src/statistics/status-history.ts';
import { isoDate } from '../../src/validation/fields.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';

const Counts = z.object(Object.fromEntries(MEMBER_STATUSES.map((s) => [s, z.number().int()])) as Record<MemberStatus, z.ZodNumber>);
const GeographyStatistics = responseDocument('geography-statistics', z.object({
  path: z.string(),
  type: z.string(),
  name: z.string(),
  total: z.number().int(),
  byStatus: Counts.describe('members per status over the whole subtree; every status is listed, zeros included'),
}));

export function statisticsRoutes(registry: RouteRegistry, _deps: Pick<ApiDeps, 'pool'>): void {
  registry.add({
    method: 'get',
    path: '/api/statistics/geography/:nodeId',
    summary: "Members by status in a geography node's whole subtree, now or as of a date (tenant_admin, registrar, ops, or a head whose area covers the node)",
    tag: 'statistics',
    access: 'user',
    params: z.object({ nodeId: z.guid() }),
    query: z.object({
      asOf: isoDate.optional().describe("counts at the end of this day (YYYY-MM-DD) in the party's time zone, derived from the event store; "
        + 'without it, the current counts from the members rows'),
    }).strict(),
    responses: { 200: { description: 'counts for the caller\'s party', schema: GeographyStatistics } },
    callerTransaction: true,
    async handler({ params, query, auth: user, tx }) {
      const visible = (node: GeographyView | null | undefined) => {
        if (!node) throw ApiError.notFound('geography node');
        if (!hasRole(user, 'tenant_admin', 'registrar', 'ops') && !headsAreaOf(user, node.path)) {
          throw ApiError.forbidden('statistics are for tenant_admin, registrar, ops, or a head whose area covers the node');
        }
        return node;
      };
      const answer = (node: GeographyView, { total, byStatus }: SubtreeCounts) => ({
        status: 200,
        body: { data: { type: 'geography-statistics', id: node.id, attributes: { path: node.path, type: node.type, name: node.nameEn, total, byStatus } } },
      });
      if (!query.asOf) {
        // The node and its counts in one statement.
        const read = await readNodeStatistics(tx!, params.nodeId);
        return answer(visible(read?.node), read!.statistics);
      }
      const node = visible(await findGeographyNode(tx!, params.nodeId));
      return answer(node, await readStatisticsAsOf(tx!, node.id, query.asOf));
    },
  });
}
