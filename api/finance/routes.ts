import { z } from 'zod';
import { readDuesFigures } from '../../src/finance/dues-figures.ts';
import { findGeographyNode } from '../../src/geography/geography-queries.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { readInTenant } from '../http/read-path.ts';
import type { RouteRegistry } from '../http/route.ts';

/** The longest span one request may ask for: a year and a day, so a leap year fits. */
const MAX_DAYS = 367;
const DAY_MS = 86_400_000;

const calendarDate = z.iso.date({ error: 'a date, YYYY-MM-DD' }).refine((d) => d >= '1900-01-01' && d <= '2999-12-31', 'a date between 1900-01-01 and 2999-12-31');

const DuesQuery = z.object({
  geography: z.guid({ error: 'a geography node id (UUID)' }).optional()
    .describe('the node whose subtree is reported (itself and every node under it); omitted: the whole party, national level included (treasurers only)'),
  from: calendarDate.describe('first day, inclusive, in the party\'s time zone'),
  to: calendarDate.describe('last day, inclusive'),
}).strict();

const DuesFigure = z.object({
  type: z.literal('dues-figures'),
  id: z.string().describe('<day>:<level>:<node id, or "national">:<currency>'),
  attributes: z.object({
    day: z.string(),
    level: z.enum(['national', 'province', 'district', 'local_level']),
    geographyId: z.string().nullable().describe('null for the national level'),
    currency: z.string(),
    amountMinor: z.number().int().describe('minor units (paisa) allocated to the node that day'),
    allocations: z.number().int().describe('how many payments contributed'),
  }),
});
const DuesFigures = z.object({
  data: z.array(DuesFigure),
  meta: z.object({ from: z.string(), to: z.string(), geography: z.string().nullable(), totalMinor: z.record(z.string(), z.number().int()).describe('sum of the figures by currency') }),
});

export function financeRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'reads'>): void {
  registry.add({
    method: 'get',
    path: '/api/finance/dues',
    summary: 'Dues allocated per geography node and day (treasurer: the whole party or any node; a head: nodes their committee covers)',
    tag: 'finance',
    access: 'user',
    query: DuesQuery,
    responses: {
      200: { description: 'totals per node and day, days with no payment left out', schema: DuesFigures },
      400: { description: 'a parameter is invalid (from after to, a span over 367 days); source.parameter names it' },
      403: { description: 'the caller is neither a treasurer nor a head whose area covers the node' },
      404: { description: 'no such geography node' },
    },
    async handler({ query, auth: user, req }) {
      if (query.from > query.to) throw new ApiError('INVALID_PARAMETER', `to: ${query.to} is before from (${query.from})`, { parameter: 'to' });
      if ((Date.parse(query.to) - Date.parse(query.from)) / DAY_MS + 1 > MAX_DAYS) {
        throw new ApiError('INVALID_PARAMETER', `to: at most ${MAX_DAYS} days from from`, { parameter: 'to' });
      }
      const treasurer = hasRole(user, 'treasurer');
      const context = { tenantId: user.tenantId, actor: `user:${user.userId}`, ip: req.ip, userAgent: req.get('user-agent') };
      const figures = await readInTenant(deps, user, context, async (tx) => {
        if (query.geography === undefined) {
          if (!treasurer) throw ApiError.forbidden('the whole party\'s dues are for treasurers; a head names a node their committee covers in geography');
          return readDuesFigures(tx, { geographyId: null, from: query.from, to: query.to });
        }
        const node = await findGeographyNode(tx, query.geography);
        if (!node) throw new ApiError('NOT_FOUND', 'geography node not found', { parameter: 'geography' });
        if (!treasurer && !headsAreaOf(user, node.path)) {
          throw ApiError.forbidden('dues are for treasurers, or a head whose committee covers the node');
        }
        return readDuesFigures(tx, { geographyId: node.id, from: query.from, to: query.to });
      });
      const totalMinor: Record<string, number> = {};
      for (const f of figures) totalMinor[f.currency] = (totalMinor[f.currency] ?? 0) + f.amountMinor;
      return {
        status: 200,
        body: {
          data: figures.map((f) => ({ type: 'dues-figures', id: `${f.day}:${f.level}:${f.geographyId ?? 'national'}:${f.currency}`, attributes: f })),
          meta: { from: query.from, to: query.to, geography: query.geography ?? null, totalMinor },
        },
      };
    },
  });
}
