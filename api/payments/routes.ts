import { isoDateTime, slug, text } from '../../src/validation/fields.ts';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { hasRole } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { requestDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { PaymentDocument, paymentDocument } from './payment-document.ts';
import { recordPayment } from './record-payment.ts';
import { rawBodyOf, signatureIsValid } from './webhook-signature.ts';

const CLOCK_SKEW_MS = 5 * 60_000;

const paymentFields = {
  invoiceId: z.guid(),
  amount: z.number().int().positive().max(1e13).describe('minor units (paisa); must equal the open invoice'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as NPR'),
  reference: text(1, 200),
  paidAt: isoDateTime.describe('RFC 3339, not in the future'),
};
const ManualPayment = requestDocument('payments', z.object(paymentFields).describe('provider is manual; the reference is the receipt number'));
const WebhookPayment = z.object({ memberId: z.guid(), ...paymentFields }).describe('plain JSON, signed: see docs/payments.md');
const MemberParams = z.object({ id: z.guid() });
const WebhookParams = z.object({
  slug,
  provider: z.string().regex(/^[a-z0-9_-]{1,40}$/).refine((p) => p !== 'manual', 'manual is reserved for payments entered by a treasurer'),
});

/** Where the payment's fields sit in the request body, for error pointers. */
type PointerBase = '/data/attributes' | '';

function paidAtOrThrow(paidAt: string, now: Date, pointerBase: PointerBase): string {
  const at = new Date(paidAt);
  if (at.getTime() > now.getTime() + CLOCK_SKEW_MS) throw new ApiError('VALIDATION_FAILED', 'paidAt: is in the future', { pointer: `${pointerBase}/paidAt` });
  return at.toISOString();
}

export function paymentRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'clock' | 'paymentWebhookSecret'>): void {
  registry.add({
    method: 'post',
    path: '/api/members/:id/payments',
    summary: "Record a manual payment (cash, bank deposit) for the member's open invoice; repeating a reference returns the recorded payment",
    tag: 'payments',
    access: 'user',
    params: MemberParams,
    body: ManualPayment,
    responses: {
      201: { description: 'the payment is recorded and the member activated', schema: PaymentDocument },
      200: { description: 'a payment with this reference was already recorded', schema: PaymentDocument },
    },
    async handler({ params, body, auth: user, req }) {
      if (!hasRole(user, 'treasurer', 'tenant_admin')) throw ApiError.forbidden('recording a payment needs the treasurer or tenant_admin role');
      const { paidAt, ...attributes } = body.data.attributes;
      const context = { tenantId: user.tenantId, actor: `user:${user.userId}`, ip: req.ip, userAgent: req.get('user-agent') };
      const claim = { ...attributes, memberId: params.id, provider: 'manual', paidAt: paidAtOrThrow(paidAt, deps.clock(), '/data/attributes') };
      const { payment, existed } = await recordPayment(deps, context, claim);
      return { status: existed ? 200 : 201, body: paymentDocument(payment) };
    },
  });

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/payments/webhooks/:provider',
    summary: 'Payment provider webhook: X-Signature: sha256=<hex HMAC-SHA256 of the raw body>; idempotent on the reference',
    tag: 'payments',
    access: 'public',
    params: WebhookParams,
    body: WebhookPayment,
    bodyContentType: 'application/json',
    responses: { 200: { description: 'the payment is recorded (now or by an earlier delivery)', schema: PaymentDocument } },
    // The signature is checked before the body is even validated: an unsigned request learns nothing.
    guard(req) {
      if (!signatureIsValid(deps.paymentWebhookSecret, rawBodyOf(req), req.get('x-signature'))) {
        throw new ApiError('BAD_SIGNATURE', 'X-Signature must be sha256=<hex HMAC-SHA256 of the raw body>', { header: 'X-Signature' });
      }
    },
    async handler({ params, body, req }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const context = { tenantId: tenant.id, actor: `payment:${params.provider}`, ip: req.ip, userAgent: req.get('user-agent') };
      const claim = { ...body, provider: params.provider, paidAt: paidAtOrThrow(body.paidAt, deps.clock(), '') };
      const { payment } = await recordPayment(deps, context, claim);
      return { status: 200, body: paymentDocument(payment) };
    },
  });
}
