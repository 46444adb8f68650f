import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { memberGeographyPath } from '../../src/members/member-queries.ts';
import { findInvoice, INVOICE_STATUSES, invoicesOfMember, paymentsOfInvoices, paymentsOfMember, type InvoiceRow } from '../../src/payments/invoice-queries.ts';
import type { PaymentRow } from '../../src/payments/payments.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { relation, responseDocument, type ResourceObject } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { PaymentAttributes, paymentDocument } from './payment-document.ts';

/** Who reads a member's invoices and payments: the staff who read members, and heads covering the member's ward. */
const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

export const InvoiceAttributes = z.object({
  purpose: z.enum(['admission', 'renewal']).describe('admission: the fee of a new member; renewal: the dues of a term'),
  termNumber: z.number().int().nullable().describe('the term a renewal invoice renews; null for admission'),
  amountMinor: z.number().int().describe('minor units (paisa)'),
  currency: z.string(),
  status: z.enum(INVOICE_STATUSES).describe('open until paid, or void when the application ended without payment'),
  issuedAt: z.string(),
  dueAt: z.string().describe('the payment window closes then'),
  paidAt: z.string().nullable(),
  voidedAt: z.string().nullable(),
});
const InvoiceResource = z.object({ type: z.literal('invoices'), id: z.string(), attributes: InvoiceAttributes, relationships: z.record(z.string(), z.unknown()) });
const PaymentResource = z.object({ type: z.literal('payments'), id: z.string(), attributes: PaymentAttributes });
const InvoiceList = z.object({ data: z.array(InvoiceResource), meta: z.object({ count: z.number().int() }) });
const InvoiceDocument = responseDocument('invoices', InvoiceAttributes).extend({
  included: z.array(PaymentResource).describe('the payments recorded against the invoice'),
});
const PaymentList = z.object({ data: z.array(PaymentResource), meta: z.object({ count: z.number().int() }) });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function invoiceResource(invoice: InvoiceRow): ResourceObject {
  const { id, memberId, issuedAt, dueAt, paidAt, voidedAt, ...rest } = invoice;
  return {
    type: 'invoices',
    id,
    attributes: { ...rest, issuedAt: iso(issuedAt), dueAt: iso(dueAt), paidAt: iso(paidAt), voidedAt: iso(voidedAt) },
    relationships: { member: relation('members', memberId) },
  };
}

const paymentResource = (payment: PaymentRow): ResourceObject => paymentDocument(payment).data;

/**
 * The member's finances, read by staff or a head covering the member. An id of another party
 * (or none) is 404; a member outside the caller's area is 403, as for the member itself.
 */
async function asReader<T>(tx: TenantTransaction, auth: AuthContext, memberId: string, what: string, read: () => Promise<T>): Promise<T> {
  const path = await memberGeographyPath(tx, memberId);
  if (path === null) throw ApiError.notFound(what);
  if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, path)) throw ApiError.forbidden("invoices and payments are for staff, or a head of a committee covering the member's ward");
  return read();
}

export function invoiceRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool'>): void {
  const inTenant = <T>(auth: AuthContext, work: (tx: TenantTransaction) => Promise<T>) =>
    withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, work);
  const denied = { 403: { description: "the caller is neither staff nor a head covering the member's ward" } };

  registry.add({
    method: 'get',
    path: '/api/members/:id/invoices',
    summary: "A member's invoices, newest first: admission and renewals, open, paid or void (staff, or heads covering the member)",
    tag: 'payments',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    responses: { 200: { description: "the member's invoices", schema: InvoiceList }, ...denied, 404: { description: 'no such member in the party' } },
    handler: ({ params, auth }) => inTenant(auth, (tx) => asReader(tx, auth, params.id, 'member', async () => {
      const invoices = await invoicesOfMember(tx, params.id);
      return { status: 200, body: { data: invoices.map(invoiceResource), meta: { count: invoices.length } } };
    })),
  });

  registry.add({
    method: 'get',
    path: '/api/invoices/:id',
    summary: 'An invoice, with the payments recorded against it (staff, or heads covering its member)',
    tag: 'payments',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    responses: { 200: { description: 'the invoice; its payments in included', schema: InvoiceDocument }, ...denied, 404: { description: 'no such invoice in the party' } },
    handler: ({ params, auth }) => inTenant(auth, async (tx) => {
      const invoice = await findInvoice(tx, params.id);
      if (!invoice) throw ApiError.notFound('invoice');
      return asReader(tx, auth, invoice.memberId, 'invoice', async () => ({
        status: 200,
        body: { data: invoiceResource(invoice), included: (await paymentsOfInvoices(tx, [invoice.id])).map(paymentResource) },
      }));
    }),
  });

  registry.add({
    method: 'get',
    path: '/api/members/:id/payments',
    summary: "A member's payments, newest first (staff, or heads covering the member)",
    tag: 'payments',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    responses: { 200: { description: "the member's payments", schema: PaymentList }, ...denied, 404: { description: 'no such member in the party' } },
    handler: ({ params, auth }) => inTenant(auth, (tx) => asReader(tx, auth, params.id, 'member', async () => {
      const payments = await paymentsOfMember(tx, params.id);
      return { status: 200, body: { data: payments.map(paymentResource), meta: { count: payments.length } } };
    })),
  });
}
