import { sql } from 'slonik';
import { z } from 'zod';
import { startRenewal } from '../../src/renewals/renewal-client.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { renewalWorkflowId } from '../../src/renewals/renewal-contract.ts';
import { renewalDates } from '../../src/renewals/renewals.ts';
import { termsOf } from '../../src/terms/term-ledger.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';

const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;
const Id = z.object({ id: z.uuid() });
const day = z.string().describe('YYYY-MM-DD, a day in the party\'s time zone');

const TermResource = z.object({
  type: z.literal('member-terms'),
  id: z.string(),
  attributes: z.object({
    termNumber: z.number().int(),
    startsOn: day,
    endsOn: day.describe('the first day the term no longer covers'),
    paymentId: z.string().nullable(),
    waived: z.boolean(),
    source: z.enum(['admission', 'renewal', 'import', 'waiver', 'backfill']),
  }),
});
const OpenRenewal = z.object({
  workflowId: z.string(),
  termNumber: z.number().int().describe('the term it renews'),
  invoiceId: z.string().nullable(),
  amountMinor: z.number().int().nullable(),
  currency: z.string().nullable(),
  dueAt: z.string().nullable().describe('midnight of paid-until in the party\'s zone (RFC 3339)'),
});
const TermsDocument = z.object({
  data: z.array(TermResource),
  meta: z.object({
    standing: z.enum(['none', 'current', 'grace', 'lapsed']).describe('derived from the terms today, in the party\'s zone (docs/membership.md "Standing")'),
    paidUntil: day.nullable(),
    graceUntil: day.nullable().describe('the member lapses on this day unless paid'),
    reinstatableUntil: day.nullable().describe('a lapsed member who pays before this day is reinstated with the same number'),
    openRenewal: OpenRenewal.nullable(),
  }),
});
const RenewalStarted = responseDocument('renewals', z.object({
  termNumber: z.number().int().describe('the term it renews: the member\'s last'),
}));

const OpenRenewalRow = z.object({
  workflowId: z.string(), termNumber: z.number(), invoiceId: z.string().nullable(), amountMinor: z.number().nullable(),
  currency: z.string().nullable(), dueAt: z.number().nullable(),
});

export function renewalRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'clock'>): void {
  registry.add({
    method: 'get',
    path: '/api/members/:id/terms',
    summary: "A member's terms (the ledger, oldest first), their standing today and the renewal waiting for payment (staff, or heads of a committee covering the member)",
    tag: 'renewals',
    access: 'user',
    params: Id,
    query: z.object({}).strict(),
    responses: { 200: { description: "the member's terms and standing", schema: TermsDocument } },
    async handler({ params, auth }) {
      return withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, async (tx) => {
        const member = await findMember(tx, params.id);
        if (!member) throw ApiError.notFound('member');
        if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden('not your area');
        const tenant = (await findTenant(tx, auth.tenantId))!;
        const terms = await termsOf(tx, member.id);
        const dates = await renewalDates(tx, tenant, member.id, deps.clock());
        const open = await tx.maybeOne(sql.type(OpenRenewalRow)`
          SELECT r.workflow_id AS "workflowId", r.term_number AS "termNumber", i.id AS "invoiceId", i.amount_minor::float8 AS "amountMinor",
                 i.currency, i.due_at AS "dueAt"
          FROM member_renewals r LEFT JOIN invoices i ON i.id = r.invoice_id AND i.status = 'open'
          WHERE r.member_id = ${member.id} AND (r.outcome IS NULL OR r.outcome = 'lapsed')
          ORDER BY r.term_number DESC LIMIT 1`);
        return {
          status: 200,
          body: {
            data: terms.map(({ id, memberId: _m, ...attributes }) => ({ type: 'member-terms' as const, id, attributes })),
            meta: {
              standing: dates?.standing.standing ?? 'none',
              paidUntil: dates?.standing.paidUntil ?? null,
              graceUntil: dates?.standing.graceUntil ?? null,
              reinstatableUntil: dates?.standing.reinstatableUntil ?? null,
              openRenewal: open && { ...open, dueAt: open.dueAt === null ? null : new Date(open.dueAt).toISOString() },
            },
          },
        };
      });
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/renewals',
    summary: "Start the renewal of a member's term now, before the daily run reaches it (treasurer, tenant_admin): the renewal invoice is issued and emailed, and paying it early extends the term from its paid-until date",
    tag: 'renewals',
    access: 'user',
    params: Id,
    body: requestDocument('renewals', z.object({
      termNumber: z.number().int().min(1).max(10_000).describe("the member's last term, the one this renewal follows (GET /api/members/{id}/terms): a request naming an older term changes nothing (409 TERM_NOT_LAST)"),
    })),
    responses: {
      202: { description: 'the renewal is started; its invoice appears in GET /api/members/{id}/terms within moments', schema: RenewalStarted },
      200: { description: 'the renewal of this term was started before (by the daily run or staff)', schema: RenewalStarted },
    },
    async handler({ params, body, auth }) {
      if (!hasRole(auth, 'treasurer', 'tenant_admin')) throw ApiError.forbidden('starting a renewal needs the treasurer or tenant_admin role');
      const { member, lastTerm } = await withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, async (tx) => {
        const member = await findMember(tx, params.id);
        if (!member) throw ApiError.notFound('member');
        return { member, lastTerm: (await termsOf(tx, member.id)).at(-1) };
      });
      if ((member.status !== 'active' && member.status !== 'suspended') || !lastTerm) {
        throw new MemberRuleError('MEMBER_NOT_ACTIVE', `a renewal is for an active or suspended member with a term; the member is ${member.status}`);
      }
      if (body.data.attributes.termNumber !== lastTerm.termNumber) {
        throw new MemberRuleError('TERM_NOT_LAST', `termNumber: the member's last term is ${lastTerm.termNumber}, not ${body.data.attributes.termNumber}`, { field: 'termNumber' });
      }
      const started = await startRenewal(deps.temporal, auth.tenantId, member.id, lastTerm.termNumber, `user:${auth.userId}`);
      return {
        status: started ? 202 : 200,
        body: { data: { type: 'renewals', id: renewalWorkflowId(auth.tenantId, member.id, lastTerm.termNumber), attributes: { termNumber: lastTerm.termNumber } } },
      };
    },
  });
}
