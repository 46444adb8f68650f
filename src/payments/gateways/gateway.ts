/**
 * What the eSewa and Khalti adapters have in common: one answer type for "what does the
 * gateway say about this payment", exact amounts in paisa, and errors that keep "the gateway
 * did not answer" apart from "the gateway answered no".
 *
 * Nothing here trusts the payer's browser. A redirect back from a gateway is at most a hint
 * of which transaction to ask about; only a server-to-server status answer (eSewa's status
 * API, Khalti's lookup) becomes a {@link GatewayVerification}.
 */
import { DomainError } from '../../errors/domain-error.ts';

export type GatewayName = 'esewa' | 'khalti';

/**
 * The gateway's answer about one transaction, in one vocabulary for both gateways
 * (docs/payments.md has the table from each gateway's own states):
 *
 * - `complete`: paid. The only state that counts as a payment.
 * - `pending`: started, not finished (eSewa PENDING; Khalti Initiated or Pending). Hold and ask again.
 * - `ambiguous`: the gateway itself does not know yet (eSewa AMBIGUOUS, an unknown Khalti
 *   status, which Khalti says to hold). Hold and ask again; never counts.
 * - `not_found`: the gateway has no such transaction (eSewa NOT_FOUND: the payer never
 *   finished, or the session expired; Khalti "Not found." for the pidx). Not paid.
 * - `expired`: the payment link expired unpaid (Khalti Expired).
 * - `canceled`: the payer canceled (Khalti "User canceled"), or eSewa canceled or reversed it (CANCELED).
 * - `failed`: the gateway says the payment failed (Khalti Failed).
 * - `refunded`: paid, then all of it refunded (eSewa FULL_REFUND, Khalti Refunded).
 * - `partially_refunded`: paid, then part of it refunded (eSewa PARTIAL_REFUND, Khalti Partially Refunded).
 */
export type VerificationState =
  | 'complete'
  | 'pending'
  | 'ambiguous'
  | 'not_found'
  | 'expired'
  | 'canceled'
  | 'failed'
  | 'refunded'
  | 'partially_refunded';

export const VERIFICATION_STATES: readonly VerificationState[] = [
  'complete',
  'pending',
  'ambiguous',
  'not_found',
  'expired',
  'canceled',
  'failed',
  'refunded',
  'partially_refunded',
];

export interface GatewayVerification {
  gateway: GatewayName;
  state: VerificationState;
  /** The gateway's own word for the state, as received (`COMPLETE`, `User canceled`, ...). */
  gatewayStatus: string;
  /** What we asked about: eSewa's `transaction_uuid` (ours), Khalti's `pidx` (theirs, from initiate). */
  reference: string;
  /** The gateway's id of the money movement: eSewa `ref_id`, Khalti `transaction_id`; null until there is one. */
  gatewayTransactionId: string | null;
  /**
   * The amount the gateway reports, in paisa, converted exactly from what it sent; null when
   * its answer names none (Khalti's "Not found."). Compare it with the invoice before counting.
   */
  amountPaisa: number | null;
  /** The response body as parsed, for the audit trail. */
  raw: unknown;
}

/** Only `complete` counts as a payment, and only when its amount is the one we expected. */
export function countsAsPayment(state: VerificationState): boolean {
  return state === 'complete';
}

/**
 * States the gateway may still move on from by itself: ask again (with backoff) until the
 * attempt's own expiry. `not_found` is here too: eSewa answers NOT_FOUND for a transaction
 * whose payer has not reached it yet. Every other state is the gateway's last word about the
 * payment, except that a `complete` payment may later be refunded.
 */
export function isHeld(state: VerificationState): boolean {
  return state === 'pending' || state === 'ambiguous' || state === 'not_found';
}

export interface GatewayErrorOptions {
  field?: string | undefined;
  cause?: unknown;
}

/** Why a gateway gave no usable answer. */
export type OutageReason = 'network' | 'timeout' | 'unavailable' | 'rate_limited' | 'bad_response';

/**
 * The gateway did not answer, or not readably: a network error, a timeout, a 5xx or 429, or
 * a body that is not what its documentation says. Nothing is known about the payment; ask
 * again later (retryable). Distinct from every definite answer, including `not_found`.
 */
export class GatewayUnavailableError extends DomainError {
  override readonly name = 'GatewayUnavailableError';
  readonly gateway: GatewayName;
  readonly reason: OutageReason;
  readonly httpStatus: number | null;

  constructor(gateway: GatewayName, reason: OutageReason, message: string, httpStatus: number | null = null, options: GatewayErrorOptions = {}) {
    super('PAYMENT_GATEWAY_UNAVAILABLE', `${gateway}: ${message}`, options);
    this.gateway = gateway;
    this.reason = reason;
    this.httpStatus = httpStatus;
  }
}

/**
 * The gateway answered and refused our request: wrong merchant key or signature, a field it
 * rejects (`field` names it, in the gateway's vocabulary). Trying again changes nothing.
 */
export class GatewayRefusedError extends DomainError {
  override readonly name = 'GatewayRefusedError';
  readonly gateway: GatewayName;
  readonly httpStatus: number;
  readonly body: unknown;

  constructor(gateway: GatewayName, httpStatus: number, message: string, body: unknown, options: GatewayErrorOptions = {}) {
    super('PAYMENT_GATEWAY_REFUSED', `${gateway}: ${message}`, options);
    this.gateway = gateway;
    this.httpStatus = httpStatus;
    this.body = body;
  }
}

/**
 * Data that came back through the payer's browser (eSewa's base64 `data`, Khalti's callback
 * query) is malformed, or its signature does not verify. `field` names the part at fault.
 */
export class GatewayDataError extends DomainError {
  override readonly name = 'GatewayDataError';
  readonly gateway: GatewayName;

  constructor(gateway: GatewayName, field: string, message: string, options: { cause?: unknown } = {}) {
    super('PAYMENT_GATEWAY_DATA_INVALID', `${gateway}: ${message}`, { field, cause: options.cause });
    this.gateway = gateway;
  }
}

// ---------------------------------------------------------------------------------------------
// Amounts. The product counts in paisa (integers); eSewa speaks rupees with decimals. Both
// directions go through decimal strings, never through floating point: 1000.50 rupees is
// 100050 paisa, and "0.30000000000000004" is refused rather than rounded.

const RUPEES = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** A whole, non-negative number of paisa that a double holds exactly. */
export function isPaisa(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Paisa as rupees the way we send them to eSewa: `100000` → `"1000"`, `100050` → `"1000.50"`,
 * `5` → `"0.05"`.
 * @throws DomainError VALIDATION_FAILED naming `field` when `paisa` is not a whole non-negative number.
 */
export function paisaToRupees(paisa: number, field = 'amountPaisa'): string {
  if (!isPaisa(paisa)) throw new DomainError('VALIDATION_FAILED', `${field} must be a whole, non-negative number of paisa`, { field });
  const rupees = Math.trunc(paisa / 100);
  const rest = paisa % 100;
  return rest === 0 ? String(rupees) : `${String(rupees)}.${String(rest).padStart(2, '0')}`;
}

/**
 * Rupees written as a decimal (`"1000"`, `"1000.5"`, `"1000.50"`, `"1000.0"`) as paisa, exactly.
 * Digits after the second decimal place must be zeros: `"10.505"` is not an amount in paisa.
 * No sign, exponent, grouping or spaces. Returns null when the text is not such an amount.
 */
export function rupeesToPaisa(text: string): number | null {
  const match = RUPEES.exec(text);
  if (!match) return null;
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (/[^0]/.test(fraction.slice(2))) return null;
  const paisa = Number(whole) * 100 + Number(fraction.slice(0, 2).padEnd(2, '0'));
  return Number.isSafeInteger(paisa) ? paisa : null;
}

// ---------------------------------------------------------------------------------------------
// HTTP. Global fetch with a timeout; every way of not getting an answer becomes a
// GatewayUnavailableError. Each adapter reads the status and body itself.

export interface HttpOptions {
  /** Per request, milliseconds. Default 10 000. */
  timeoutMs?: number | undefined;
  /** For tests; the global fetch otherwise. */
  fetch?: typeof fetch | undefined;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface GatewayHttpResponse {
  status: number;
  /** The body as text, exactly as received. */
  text: string;
}

/** One request to a gateway's server API; throws GatewayUnavailableError when there is no answer or a 5xx/429. */
export async function gatewayRequest(gateway: GatewayName, url: string, init: RequestInit, options: HttpOptions = {}): Promise<GatewayHttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    text = await response.text();
  } catch (error) {
    const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
    if (timedOut) throw new GatewayUnavailableError(gateway, 'timeout', `no answer within ${String(timeoutMs)} ms`, null, { cause: error });
    throw new GatewayUnavailableError(gateway, 'network', `request failed: ${error instanceof Error ? error.message : String(error)}`, null, { cause: error });
  }
  if (response.status >= 500) throw new GatewayUnavailableError(gateway, 'unavailable', `answered HTTP ${String(response.status)}`, response.status);
  if (response.status === 429) throw new GatewayUnavailableError(gateway, 'rate_limited', 'answered HTTP 429', 429);
  return { status: response.status, text };
}

/** A JSON value with, for every string and number, the exact source text it was written as. */
export type SourcedJson =
  | { kind: 'string'; value: string; source: string }
  | { kind: 'number'; value: number; source: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'array'; items: SourcedJson[] }
  | { kind: 'object'; entries: Map<string, SourcedJson> };

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

const SOURCED = Symbol('sourced');

/**
 * JSON.parse that keeps the source text of every primitive (Node's JSON.parse source text
 * access): eSewa signs `total_amount` as written, and `1000.0` is not `1000` to an HMAC.
 * Returns null when the text is not JSON. A repeated key keeps its last value, as in JSON.parse
 * (a signed field cannot be changed that way: the signature covers the value that is used).
 */
export function parseSourcedJson(text: string): SourcedJson | null {
  const reviver: Reviver = function (_key, value, context) {
    if (value !== null && typeof value === 'object' && SOURCED in value) return value;
    let node: SourcedJson;
    if (typeof value === 'string') node = { kind: 'string', value, source: value };
    else if (typeof value === 'number') node = { kind: 'number', value, source: context?.source ?? String(value) };
    else if (typeof value === 'boolean') node = { kind: 'boolean', value };
    else if (value === null) node = { kind: 'null' };
    else if (Array.isArray(value)) node = { kind: 'array', items: value.map((item) => (item as { [SOURCED]: SourcedJson })[SOURCED]) };
    else {
      const entries = new Map<string, SourcedJson>();
      for (const [name, child] of Object.entries(value as Record<string, { [SOURCED]: SourcedJson }>)) entries.set(name, child[SOURCED]);
      node = { kind: 'object', entries };
    }
    return { [SOURCED]: node };
  };
  try {
    const parsed = (JSON.parse as (text: string, reviver: Reviver) => unknown)(text, reviver) as { [SOURCED]: SourcedJson };
    return parsed[SOURCED];
  } catch {
    return null;
  }
}

/** The JSON body of a gateway answer, or a GatewayUnavailableError (bad_response) naming what was wrong. */
export function parseGatewayBody(gateway: GatewayName, response: GatewayHttpResponse): SourcedJson {
  const body = parseSourcedJson(response.text);
  if (body === null) throw new GatewayUnavailableError(gateway, 'bad_response', `HTTP ${String(response.status)} with a body that is not JSON`, response.status);
  return body;
}

/** A plain JS value of a sourced JSON tree, for `raw` fields and error bodies. */
export function plainJson(node: SourcedJson): unknown {
  switch (node.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return node.value;
    case 'null':
      return null;
    case 'array':
      return node.items.map(plainJson);
    case 'object':
      return Object.fromEntries([...node.entries].map(([key, value]) => [key, plainJson(value)]));
  }
}
