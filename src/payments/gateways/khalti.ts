/**
 * Khalti Web Checkout (KPG-2) (https://docs.khalti.com/khalti-epayment/; docs/payments.md cites
 * the version):
 *
 * 1. {@link initiateKhaltiPayment}: POST `epayment/initiate/` with `Authorization: Key <secret>`
 *    and the amount in paisa; Khalti answers a `pidx` and a `payment_url` that expires.
 * 2. The payer pays on Khalti and is sent back to `return_url?pidx=..&status=..`. That query is
 *    untrusted ({@link readKhaltiCallback} only takes the pidx from it).
 * 3. {@link lookupKhaltiPayment}: POST `epayment/lookup/` with the pidx, the only answer we
 *    trust. Only `Completed` counts; `Pending` and `Initiated` are held.
 */
import { DomainError } from '../../errors/domain-error.ts';
import {
  GatewayDataError,
  GatewayRefusedError,
  GatewayUnavailableError,
  gatewayRequest,
  isPaisa,
  parseGatewayBody,
  plainJson,
  type GatewayVerification,
  type HttpOptions,
  type SourcedJson,
  type VerificationState,
} from './gateway.ts';

export interface KhaltiMerchant {
  /** The merchant's `live_secret_key` (test-admin.khalti.com for the sandbox, admin.khalti.com in production). */
  secretKey: string;
}

/** Khalti's API base URLs (KPG-2 docs, "API Endpoints"). */
export const KHALTI_SANDBOX_BASE_URL = 'https://dev.khalti.com/api/v2/';
export const KHALTI_PRODUCTION_BASE_URL = 'https://khalti.com/api/v2/';

/** Khalti refuses less than Rs 10. */
export const KHALTI_MINIMUM_PAISA = 1000;

const PIDX = /^[A-Za-z0-9]{1,64}$/;

export interface KhaltiInitiateInput {
  amountPaisa: number;
  /** Our unique id of this attempt. */
  purchaseOrderId: string;
  /** What the payer sees as the product's name. */
  purchaseOrderName: string;
  returnUrl: string;
  websiteUrl: string;
  customerInfo?: { name?: string; email?: string; phone?: string };
}

export interface KhaltiInitiated {
  pidx: string;
  /** Send the payer here. */
  paymentUrl: string;
  /** When the payment link stops working. */
  expiresAt: Date;
  /** Seconds from initiation to expiry, as Khalti reported. */
  expiresIn: number;
  raw: unknown;
}

function endpoint(baseUrl: string, path: string): string {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
}

function headers(merchant: KhaltiMerchant): Record<string, string> {
  return { Authorization: `Key ${merchant.secretKey}`, 'Content-Type': 'application/json', Accept: 'application/json' };
}

/** Khalti's error body as a refusal (`field` is the first field its validation names) or an outage. */
function refusal(response: { status: number }, body: SourcedJson, what: string): GatewayRefusedError {
  const plain = plainJson(body);
  let field: string | undefined;
  let message = `${what}: HTTP ${String(response.status)}`;
  if (body.kind === 'object') {
    const detail = body.entries.get('detail');
    if (detail?.kind === 'string') message = `${what}: ${detail.value}`;
    for (const [name, value] of body.entries) {
      if (name === 'error_key' || name === 'detail' || name === 'status_code') continue;
      field = name;
      if (value.kind === 'array' && value.items[0]?.kind === 'string') message = `${what}: ${name}: ${value.items[0].value}`;
      break;
    }
  }
  return new GatewayRefusedError('khalti', response.status, message, plain, { field });
}

function requiredText(value: string, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new DomainError('VALIDATION_FAILED', `${field} must be 1 to ${String(max)} characters`, { field });
  }
  return value;
}

function httpUrl(value: string, field: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new DomainError('VALIDATION_FAILED', `${field} must be an absolute http(s) URL`, { field });
  }
  return value;
}

/**
 * Starts a payment.
 * @throws DomainError VALIDATION_FAILED naming the field, before any request, for an amount
 *   that is not whole paisa of at least Rs 10, a blank id or name, or a URL that is not http(s).
 * @throws GatewayRefusedError Khalti refused the key (401) or a field (400 `validation_error`, `field` names it).
 * @throws GatewayUnavailableError no answer, a timeout, a 5xx or 429, or an answer without pidx and payment_url.
 */
export async function initiateKhaltiPayment(merchant: KhaltiMerchant, baseUrl: string, input: KhaltiInitiateInput, http: HttpOptions = {}): Promise<KhaltiInitiated> {
  if (!isPaisa(input.amountPaisa) || input.amountPaisa < KHALTI_MINIMUM_PAISA) {
    throw new DomainError('VALIDATION_FAILED', `amountPaisa must be whole paisa, at least ${String(KHALTI_MINIMUM_PAISA)} (Rs 10)`, { field: 'amountPaisa' });
  }
  const body = {
    return_url: httpUrl(input.returnUrl, 'returnUrl'),
    website_url: httpUrl(input.websiteUrl, 'websiteUrl'),
    amount: input.amountPaisa,
    purchase_order_id: requiredText(input.purchaseOrderId, 'purchaseOrderId', 255),
    purchase_order_name: requiredText(input.purchaseOrderName, 'purchaseOrderName', 255),
    ...(input.customerInfo ? { customer_info: input.customerInfo } : {}),
  };
  const response = await gatewayRequest('khalti', endpoint(baseUrl, 'epayment/initiate/'), { method: 'POST', headers: headers(merchant), body: JSON.stringify(body) }, http);
  const parsed = parseGatewayBody('khalti', response);
  if (response.status !== 200) {
    if (response.status >= 400 && response.status < 500) throw refusal(response, parsed, 'initiate refused');
    throw new GatewayUnavailableError('khalti', 'bad_response', `initiate answered HTTP ${String(response.status)}`, response.status);
  }
  const bad = (message: string): never => {
    throw new GatewayUnavailableError('khalti', 'bad_response', message, response.status);
  };
  if (parsed.kind !== 'object') return bad('initiate answered something other than a JSON object');
  const pidx = parsed.entries.get('pidx');
  const paymentUrl = parsed.entries.get('payment_url');
  const expiresAt = parsed.entries.get('expires_at');
  const expiresIn = parsed.entries.get('expires_in');
  if (pidx?.kind !== 'string' || !PIDX.test(pidx.value)) return bad('initiate answered no pidx');
  if (paymentUrl?.kind !== 'string' || !/^https?:\/\//.test(paymentUrl.value)) return bad('initiate answered no payment_url');
  const expiry = expiresAt?.kind === 'string' ? new Date(expiresAt.value) : null;
  if (expiry === null || Number.isNaN(expiry.getTime())) return bad('initiate answered no expires_at');
  return {
    pidx: pidx.value,
    paymentUrl: paymentUrl.value,
    expiresAt: expiry,
    expiresIn: expiresIn?.kind === 'number' ? expiresIn.value : Math.round((expiry.getTime() - Date.now()) / 1000),
    raw: plainJson(parsed),
  };
}

/** Khalti's lookup statuses as its KPG-2 documentation lists them. */
export const KHALTI_STATUSES = ['Completed', 'Pending', 'Initiated', 'Refunded', 'Partially Refunded', 'Expired', 'User canceled', 'Failed'] as const;
export type KhaltiStatus = (typeof KHALTI_STATUSES)[number];

const KHALTI_STATE: Record<KhaltiStatus, VerificationState> = {
  Completed: 'complete',
  Pending: 'pending',
  Initiated: 'pending',
  Refunded: 'refunded',
  'Partially Refunded': 'partially_refunded',
  Expired: 'expired',
  'User canceled': 'canceled',
  Failed: 'failed',
};

/**
 * Khalti's status as our state. Its documentation spells one status two ways ("Partially
 * Refunded" in the status-code table, "Partially refunded" in the payload table): both are
 * read. Any other word is held (`ambiguous`), as Khalti says: "For status other than these,
 * hold the transaction and contact KHALTI team."
 */
export function mapKhaltiStatus(status: string): VerificationState {
  if (status === 'Partially refunded') return 'partially_refunded';
  return (KHALTI_STATUSES as readonly string[]).includes(status) ? KHALTI_STATE[status as KhaltiStatus] : 'ambiguous';
}

/**
 * Asks Khalti about a payment by its pidx. Khalti answers Expired and User canceled with HTTP
 * 400 and the same body as the others; those are answers, not errors. An unknown pidx
 * (`{"detail": "Not found."}`) is `not_found`.
 * @throws GatewayRefusedError Khalti refused the key (401) or the request (another 4xx).
 * @throws GatewayUnavailableError no answer, a timeout, a 5xx or 429, or a body that is not the documented shape.
 */
export async function lookupKhaltiPayment(merchant: KhaltiMerchant, baseUrl: string, pidx: string, http: HttpOptions = {}): Promise<GatewayVerification> {
  if (typeof pidx !== 'string' || !PIDX.test(pidx)) throw new DomainError('VALIDATION_FAILED', 'pidx must be 1 to 64 letters or digits', { field: 'pidx' });
  const response = await gatewayRequest('khalti', endpoint(baseUrl, 'epayment/lookup/'), { method: 'POST', headers: headers(merchant), body: JSON.stringify({ pidx }) }, http);
  const body = parseGatewayBody('khalti', response);
  const bad = (message: string): never => {
    throw new GatewayUnavailableError('khalti', 'bad_response', message, response.status);
  };
  if (body.kind !== 'object') return bad('lookup answered something other than a JSON object');
  const status = body.entries.get('status');
  const detail = body.entries.get('detail');
  if (status === undefined && detail?.kind === 'string' && detail.value === 'Not found.' && (response.status === 404 || response.status === 400)) {
    return { gateway: 'khalti', state: 'not_found', gatewayStatus: 'Not found.', reference: pidx, gatewayTransactionId: null, amountPaisa: null, raw: plainJson(body) };
  }
  if (status === undefined) {
    if (response.status >= 400) throw refusal(response, body, 'lookup refused');
    return bad('lookup answered no status');
  }
  if (status.kind !== 'string') return bad('lookup answered a status that is not a string');
  if (response.status !== 200 && response.status !== 400) return bad(`lookup answered HTTP ${String(response.status)} with a status`);
  const echoed = body.entries.get('pidx');
  if (echoed?.kind !== 'string' || echoed.value !== pidx) return bad('lookup answered about another pidx');
  const total = body.entries.get('total_amount');
  const amountPaisa = total?.kind === 'number' && /^[0-9]+$/.test(total.source) ? total.value : null;
  if (amountPaisa === null || !isPaisa(amountPaisa)) return bad('lookup answered a total_amount that is not whole paisa');
  const transaction = body.entries.get('transaction_id');
  let gatewayTransactionId: string | null = null;
  if (transaction?.kind === 'string' && transaction.value !== '') gatewayTransactionId = transaction.value;
  else if (transaction !== undefined && transaction.kind !== 'null' && !(transaction.kind === 'string' && transaction.value === '')) return bad('transaction_id is neither a string nor null');
  return { gateway: 'khalti', state: mapKhaltiStatus(status.value), gatewayStatus: status.value, reference: pidx, gatewayTransactionId, amountPaisa, raw: plainJson(body) };
}

/** What Khalti's redirect to `return_url` claims. Untrusted: only the pidx is used, to look the payment up. */
export interface KhaltiCallback {
  pidx: string;
  /** As the query said it; never acted on. */
  claimedStatus: string | null;
  purchaseOrderId: string | null;
}

/**
 * Reads the query of Khalti's redirect to `return_url` (an object of query parameters, as
 * Express parses them).
 * @throws GatewayDataError naming `pidx` when it is missing, repeated or malformed.
 */
export function readKhaltiCallback(query: Record<string, unknown>): KhaltiCallback {
  const pidx = query.pidx;
  if (typeof pidx !== 'string' || !PIDX.test(pidx)) throw new GatewayDataError('khalti', 'pidx', 'the callback has no single well-formed pidx');
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  return { pidx, claimedStatus: text(query.status), purchaseOrderId: text(query.purchase_order_id) };
}
