import { z } from 'zod';
import { withTenant, type TenantContext } from '../../src/db/tenant-context.ts';
import { GATEWAYS } from '../../src/payments/gateway-accounts.ts';
import { RECONCILIATION_REASONS, RECONCILIATION_STATUSES, type ReconciliationItem } from '../../src/payments/reconciliation.ts';
import {
  attachReconciliationItem, findReconciliationItem, markReconciliationRefund, searchReconciliationItems,
} from '../../src/payments/reconciliation-queue.ts';
import { text } from '../../src/validation/fields.ts';
import { hasRole, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import { encodeKeysetCursor, KeysetPage } from '../http/keyset-cursor.ts';
import type { RouteRegistry } from '../http/route.ts';
import { recordPayment } from '../../src/payments/record-payment.ts';

type ReconciliationDeps = Pick<ApiDeps, 'pool' | 'temporal'>;

const DECIDERS = ['treasurer', 'tenant_admin'] as const;

export const ReconciliationAttributes = z.object({
  gateway: z.enum(GATEWAYS),
  reference: z.string().describe("what the gateway knows the transaction by: eSewa's transaction_uuid, Khalti's pidx"),
  attemptId: z.string().nullable().describe('the payment attempt the money came through, when known'),
  memberId: z.string().nullable(),
  amount: z.number().int().describe('what the gateway took, in minor units (paisa)'),
  currency: z.string(),
  reason: z.enum(RECONCILIATION_REASONS).describe('why it matched no open invoice: amount_mismatch, invoice_not_open (paid, expired or closed meanwhile), paid_twice, unknown_reference, gateway_differs (the daily run found the gateway and our records apart)'),
  detail: z.string(),
  status: z.enum(RECONCILIATION_STATUSES).describe('open until a treasurer attaches it to an invoice or marks it for refund'),
  detectedAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable().describe('user:<id>, or cli:<operator> for a decision taken with the operator CLI'),
  resolutionNote: z.string().nullable(),
  paymentId: z.string().nullable().describe('the payment recorded when the item was attached'),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function itemResource(item: ReconciliationItem) {
  return {
    type: 'payment-reconciliation' as const, id: item.id,
    attributes: {
      gateway: item.gateway, reference: item.reference, attemptId: item.attemptId, memberId: item.memberId, amount: item.amountMinor,
      currency: item.currency, reason: item.reason, detail: item.detail, status: item.status, detectedAt: iso(item.detectedAt)!,
      resolvedAt: iso(item.resolvedAt), resolvedBy: item.resolvedBy, resolutionNote: item.resolutionNote, paymentId: item.paymentId,
    },
  };
}

const ItemDocument = responseDocument('payment-reconciliation', ReconciliationAttributes);
const Id = z.object({ id: z.uuid() });
const note = text(1, 1000).describe('why: it enters the audit trail and the event store');
const SearchQuery = z.object({
  filter: z.object({ status: z.enum(RECONCILIATION_STATUSES).optional().describe('`open`: those waiting for a decision') }).strict().optional(),
  page: KeysetPage,
}).strict();

export function reconciliationRoutes(registry: RouteRegistry, deps: ReconciliationDeps): void {
  const contextOf = (auth: AuthContext): TenantContext => ({ tenantId: auth.tenantId, actor: `user:${auth.userId}` });
  const mayDecide = (auth: AuthContext, what: string) => {
    if (!hasRole(auth, ...DECIDERS)) throw ApiError.forbidden(`${what} needs the treasurer or tenant_admin role`);
  };

  registry.add({
    method: 'get',
    path: '/api/payment-reconciliation',
    summary: 'Gateway payments that matched no open invoice, oldest first (treasurer, tenant_admin): filter[status]=open is what waits for a decision',
    tag: 'payments',
    access: 'user',
    query: SearchQuery,
    responses: { 200: { description: 'a page of reconciliation items, oldest detected first', schema: z.object({ data: z.array(ItemDocument.shape.data), links: z.object({ next: z.string().nullable() }) }) } },
    async handler({ query, auth }) {
      mayDecide(auth, 'the reconciliation queue');
      const size = query.page?.size ?? 25;
      const found = await withTenant(deps.pool, contextOf(auth), (tx) => searchReconciliationItems(tx, {
        status: query.filter?.status, after: query.page?.cursor && { detectedAt: query.page.cursor.at, id: query.page.cursor.id }, limit: size + 1,
      }));
      const page = found.slice(0, size);
      const last = page.at(-1);
      const next = found.length > size && last ? `/api/payment-reconciliation?${new URLSearchParams({
        ...(query.filter?.status ? { 'filter[status]': query.filter.status } : {}), 'page[size]': String(size),
        'page[cursor]': encodeKeysetCursor(last.position, last.id),
      }).toString()}` : null;
      return { status: 200, body: { data: page.map(itemResource), links: { next } } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/payment-reconciliation/:id',
    summary: 'One reconciliation item (treasurer, tenant_admin)',
    tag: 'payments',
    access: 'user',
    params: Id,
    responses: { 200: { description: 'the item', schema: ItemDocument } },
    async handler({ params, auth }) {
      mayDecide(auth, 'the reconciliation queue');
      const item = await withTenant(deps.pool, contextOf(auth), (tx) => findReconciliationItem(tx, params.id));
      if (!item) throw ApiError.notFound('reconciliation item');
      return { status: 200, body: { data: itemResource(item) } };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/payment-reconciliation/:id/attach',
    summary: "Record the item's money as the payment of an open invoice of the party with the same amount and currency (treasurer, tenant_admin): the member's lifecycle or renewal takes it as it takes a manual payment",
    tag: 'payments',
    access: 'user',
    params: Id,
    body: requestDocument('payment-reconciliation', z.object({ invoiceId: z.uuid().describe('an open invoice of a member of the party, for the same amount and currency'), note })),
    responses: {
      200: {
        description: 'the item, attached, with the payment recorded (409 RECONCILIATION_DECIDED when already decided, RECONCILIATION_ALREADY_RECORDED when the transaction is another invoice\'s payment; 422 INVOICE_MISMATCH or PAYMENT_AMOUNT_MISMATCH naming invoiceId)',
        schema: ItemDocument,
      },
    },
    async handler({ params, body, auth }) {
      mayDecide(auth, 'attaching a payment');
      const { invoiceId, note: why } = body.data.attributes;
      const record = (context: TenantContext, claim: Parameters<typeof recordPayment>[2]) => recordPayment(deps, context, claim);
      const item = await attachReconciliationItem(deps.pool, record, contextOf(auth), params.id, invoiceId, why);
      return { status: 200, body: { data: itemResource(item) } };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/payment-reconciliation/:id/refund',
    summary: "Mark the item for refund (treasurer, tenant_admin); the treasurer refunds it in the gateway's merchant portal, the API does not call the gateway",
    tag: 'payments',
    access: 'user',
    params: Id,
    body: requestDocument('payment-reconciliation', z.object({ note })),
    responses: { 200: { description: 'the item, marked for refund (409 RECONCILIATION_DECIDED when already decided)', schema: ItemDocument } },
    async handler({ params, body, auth }) {
      mayDecide(auth, 'marking a payment for refund');
      const item = await markReconciliationRefund(deps.pool, contextOf(auth), params.id, body.data.attributes.note);
      return { status: 200, body: { data: itemResource(item) } };
    },
  });
}
