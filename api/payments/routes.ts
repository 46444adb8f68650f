import { acceptedWebhookSecrets, WebhookProviderSchema } from '../../src/payments/webhook-secrets.ts';
import { isoDateTime, slug, text } from '../../src/validation/fields.ts';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { hasRole } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { requestDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { PaymentDocument, paymentDocument } from './payment-document.ts';
import { recordPayment } from '../../src/payments/record-payment.ts';
import { rawBodyOf, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S, webhookSignatureIsValid } from './webhook-signature.ts';

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
  provider: WebhookProviderSchema,
});
const SIGNATURE_FORMAT = `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<party slug>.<provider>.<raw body>" under the party's secret for this provider>, t within ${SIGNATURE_TOLERANCE_S / 60} minutes of the server's clock`;
const WebhookHeaders = z.object({
  'x-signature': z.string().regex(SIGNATURE_HEADER).describe(`${SIGNATURE_FORMAT}; several v1 (at most 4) may be given, e.g. one per secret while a secret is rotated. Anything else (a missing, malformed, wrong or stale signature, an unknown party or provider, a party with no secret for the provider) answers the same 401 BAD_SIGNATURE. See docs/payments.md`),
});

/** Where the payment's fields sit in the request body, for error pointers. */
type PointerBase = '/data/attributes' | '';

function paidAtOrThrow(paidAt: string, now: Date, pointerBase: PointerBase): string {
  const at = new Date(paidAt);
  if (at.getTime() > now.getTime() + CLOCK_SKEW_MS) throw new ApiError('VALIDATION_FAILED', 'paidAt: is in the future', { pointer: `${pointerBase}/paidAt` });
  return at.toISOString();
}

export function paymentRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'temporal' | 'clock' | 'keyring'>): void {
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
    summary: "Payment provider webhook, signed with the party's own secret for this provider (X-Signature); idempotent on the reference",
    tag: 'payments',
    access: 'public',
    params: WebhookParams,
    headers: WebhookHeaders,
    body: WebhookPayment,
    bodyContentType: 'application/json',
    responses: { 200: { description: 'the payment is recorded (now or by an earlier delivery)', schema: PaymentDocument } },
    // The signature is checked before the body, the party or the provider is: an unsigned request
    // learns nothing, not even whether the party exists or takes this provider's webhooks.
    async guard(req) {
      const party = String(req.params.slug ?? '');
      const provider = String(req.params.provider ?? '');
      const now = deps.clock();
      const keys = await acceptedWebhookSecrets(deps.pool, deps.keyring, party, provider, now);
      if (!webhookSignatureIsValid(keys, { party, provider, rawBody: rawBodyOf(req), header: req.get('x-signature'), now })) {
        throw new ApiError('BAD_SIGNATURE', `X-Signature must be ${SIGNATURE_FORMAT}`, { header: 'X-Signature' });
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
