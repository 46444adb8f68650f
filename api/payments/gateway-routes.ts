import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { gatewayAccount, GATEWAYS } from '../../src/payments/gateway-accounts.ts';
import { verifyEsewaRedirect } from '../../src/payments/gateways/esewa.ts';
import { esewaFormOf, type ReturnUrls } from '../../src/payments/gateway-payments.ts';
import { escapeHtml } from '../../src/mail/templates.ts';
import { GatewayDataError, type GatewayName } from '../../src/payments/gateways/gateway.ts';
import { readKhaltiCallback } from '../../src/payments/gateways/khalti.ts';
import { attemptByReference, findAttempt, type PaymentAttempt } from '../../src/payments/payment-attempts.ts';
import { startPaymentAttempt, verifyAttempt } from '../../src/payments/payment-client.ts';
import { slug } from '../../src/validation/fields.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { applicationByLink } from '../members/status-link-routes.ts';

type GatewayDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'keyring' | 'clock' | 'publicBaseUrl'>;

const AttemptDocument = responseDocument('payment-attempts', z.object({
  gateway: z.enum(GATEWAYS),
  invoiceId: z.string(),
  amountMinor: z.number().describe('paisa'),
  currency: z.string(),
  state: z.string().describe('initiated until the gateway answers; then as the gateway says (complete, pending, expired, canceled, …)'),
  expiresAt: z.string().describe('when the gateway stops taking this payment'),
  redirect: z.object({
    method: z.enum(['GET', 'POST']),
    url: z.string(),
    fields: z.record(z.string(), z.string()).nullable().describe('for POST: the form fields to send (eSewa signs them)'),
  }).describe('where the payer\'s browser goes to pay: submit a form (eSewa) or open a page (Khalti)'),
}));

function attemptResource(attempt: PaymentAttempt, redirect: z.infer<typeof AttemptDocument>['data']['attributes']['redirect']) {
  return {
    type: 'payment-attempts' as const, id: attempt.id,
    attributes: {
      gateway: attempt.gateway, invoiceId: attempt.invoiceId, amountMinor: attempt.amountMinor, currency: attempt.currency, state: attempt.state,
      expiresAt: new Date(attempt.expiresAt).toISOString(), redirect,
    },
  };
}

/**
 * Paying through eSewa or Khalti from the applicant's (or member's) private link, and the
 * address each gateway sends the payer back to (docs/payments.md, "eSewa and Khalti").
 */
export function gatewayRoutes(registry: RouteRegistry, deps: GatewayDeps): void {
  const base = () => deps.publicBaseUrl ?? 'http://localhost:3000';
  /** Where the gateway sends the payer back: the return route; eSewa's failure address names the attempt (its success address gets signed data). */
  const returnUrls = (partySlug: string, gateway: GatewayName, attemptId: string): ReturnUrls => {
    const url = `${base()}/api/parties/${partySlug}/payments/${gateway}/return`;
    return { success: url, failure: `${url}?attempt=${attemptId}`, website: base() };
  };

  registry.add({
    method: 'post',
    path: '/api/parties/:slug/applications/:id/payments',
    summary: "Pay the open invoice through eSewa or Khalti, from the private status link: the answer says where the payer's browser goes; the payment counts once the gateway confirms it server to server",
    tag: 'payments',
    access: 'public',
    params: z.object({ slug, id: z.uuid() }),
    query: z.object({ token: z.string().min(16).max(100) }),
    body: requestDocument('payment-attempts', z.object({ gateway: z.enum(GATEWAYS).describe('one the party takes payments through (howToPay.gateways on the status link)') })),
    responses: { 201: { description: 'the attempt and where to pay (409 NO_OPEN_INVOICE; 422 GATEWAY_NOT_TAKEN; 503 PAYMENT_GATEWAY_UNAVAILABLE)', schema: AttemptDocument } },
    async handler({ params, query, body }) {
      const { tenant, member } = await applicationByLink(deps.pool, params, query.token);
      if (!member) throw new ApiError('NO_OPEN_INVOICE', 'there is no open invoice to pay');
      const gateway = body.data.attributes.gateway;
      const { attempt, started } = await startPaymentAttempt({ pool: deps.pool, temporal: deps.temporal, keyring: deps.keyring },
        { tenantId: tenant.id, actor: 'applicant' },
        { memberId: member.id, gateway, now: deps.clock(), urls: (attemptId) => returnUrls(tenant.slug, gateway, attemptId) });
      return { status: 201, body: { data: attemptResource(attempt, started.redirect) } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/parties/:slug/payments/attempts/:id/form',
    summary: "The page that sends the payer's browser on to eSewa with the attempt's signed form (submitted by itself, or by its button); the status page opens it",
    tag: 'payments',
    access: 'public',
    params: z.object({ slug, id: z.uuid() }),
    responses: { 200: { description: 'an HTML page posting the signed form to eSewa (404 for an attempt that is not an open eSewa one)', contentType: 'text/html', schema: z.string() } },
    async handler({ params, res }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const found = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'payer' }, async (tx) => {
        const attempt = await findAttempt(tx, params.id);
        if (!attempt || attempt.gateway !== 'esewa' || attempt.settledAt !== null) return null;
        return { attempt, account: await gatewayAccount(tx, deps.keyring, 'esewa') };
      });
      if (!found?.account) throw ApiError.notFound('payment attempt');
      const form = esewaFormOf(found.account, found.attempt, returnUrls(tenant.slug, 'esewa', found.attempt.id));
      const nonce = randomBytes(16).toString('base64');
      const inputs = Object.entries(form.fields as unknown as Record<string, string>).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
      res.status(200).type('text/html')
        .setHeader('content-security-policy', `default-src 'none'; form-action ${new URL(form.action).origin}; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'`)
        .setHeader('cache-control', 'no-store')
        .setHeader('referrer-policy', 'no-referrer')
        .send(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>eSewa</title></head>
<body style="font-family: system-ui, sans-serif; text-align: center; padding: 3rem 1rem">
<form id="pay" method="POST" action="${escapeHtml(form.action)}">${inputs}<button type="submit" style="font-size: 1.1rem; padding: .7rem 1.2rem">eSewa →</button></form>
<script nonce="${nonce}">document.getElementById('pay').submit();</script>
</body></html>`);
      return undefined;
    },
  });

  registry.add({
    method: 'get',
    path: '/api/parties/:slug/payments/:gateway/return',
    summary: "Where the gateway sends the payer's browser back: the verification asks the gateway now, and the browser goes to the status page. What the browser brings is never taken as a payment",
    tag: 'payments',
    access: 'public',
    params: z.object({ slug, gateway: z.enum(GATEWAYS) }),
    query: z.looseObject({
      data: z.string().max(4000).optional().describe("eSewa's signed answer (base64 JSON), on success"),
      attempt: z.uuid().optional().describe('the attempt, on eSewa\'s failure address'),
      pidx: z.string().max(64).optional().describe("Khalti's payment id"),
    }),
    responses: { 303: { description: 'the status page of the member the attempt pays for, /parties/{slug}/applications/{id}?payment={attempt} (404 for an attempt this party does not have)' } },
    async handler({ params, query }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const attempt = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'payer' }, async (tx): Promise<PaymentAttempt | null> => {
        if (params.gateway === 'khalti') {
          const callback = (() => {
            try {
              return readKhaltiCallback(query);
            } catch (err) {
              if (err instanceof GatewayDataError) return null;
              throw err;
            }
          })();
          return callback ? attemptByReference(tx, 'khalti', callback.pidx) : null;
        }
        if (query.attempt) return findAttempt(tx, query.attempt);
        const account = await gatewayAccount(tx, deps.keyring, 'esewa');
        if (!account || !query.data) return null;
        try {
          const redirect = verifyEsewaRedirect({ productCode: account.merchantCode!, secretKey: account.secret }, query.data);
          return await findAttempt(tx, redirect.transactionUuid);
        } catch (err) {
          if (err instanceof GatewayDataError) return null;
          throw err;
        }
      });
      if (!attempt || attempt.gateway !== params.gateway) throw ApiError.notFound('payment attempt');
      await verifyAttempt(deps.temporal, { tenantId: tenant.id, memberId: attempt.memberId, attemptId: attempt.id, expiresAt: new Date(attempt.expiresAt).toISOString() });
      const page = `/parties/${encodeURIComponent(tenant.slug)}/applications/${attempt.memberId}?payment=${attempt.id}`;
      return { status: 303, headers: { location: page, 'referrer-policy': 'no-referrer' }, body: { meta: { page } } };
    },
  });
}
