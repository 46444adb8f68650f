/**
 * eSewa ePay v2 (https://developer.esewa.com.np/pages/Epay; docs/payments.md cites the version):
 *
 * 1. {@link buildEsewaForm}: the fields of the form the payer's browser POSTs to eSewa, signed
 *    with the merchant's secret key: base64 HMAC-SHA256 over
 *    `total_amount=<..>,transaction_uuid=<..>,product_code=<..>`.
 * 2. {@link verifyEsewaRedirect}: eSewa sends the payer back to `success_url?data=<base64 JSON>`.
 *    The JSON names the fields it signed (`signed_field_names`); the signature is checked over
 *    those fields exactly as written (`"1000.0"` is not `"1000"`), in constant time. A verified
 *    redirect is still only a claim made through the payer's browser: it says which transaction
 *    to ask about, never that it is paid.
 * 3. {@link checkEsewaStatus}: the status API, server to server, the only answer we trust.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../../errors/domain-error.ts';
import {
  GatewayDataError,
  GatewayRefusedError,
  GatewayUnavailableError,
  gatewayRequest,
  paisaToRupees,
  parseGatewayBody,
  parseSourcedJson,
  plainJson,
  rupeesToPaisa,
  type GatewayVerification,
  type HttpOptions,
  type SourcedJson,
  type VerificationState,
} from './gateway.ts';

export interface EsewaMerchant {
  /** `product_code`: the merchant code eSewa issued (`EPAYTEST` in eSewa's sandbox). */
  productCode: string;
  /** The merchant's secret key, used as the HMAC key as text (its UTF-8 bytes). */
  secretKey: string;
}

export interface EsewaEndpoints {
  /** Where the payer's browser POSTs the form. */
  formUrl: string;
  /** The transaction status API (GET). */
  statusUrl: string;
}

/** eSewa's UAT (sandbox): the form and the status API live on different hosts. */
export const ESEWA_SANDBOX: EsewaEndpoints = {
  formUrl: 'https://rc-epay.esewa.com.np/api/epay/main/v2/form',
  statusUrl: 'https://rc.esewa.com.np/api/epay/transaction/status/',
};

export const ESEWA_PRODUCTION: EsewaEndpoints = {
  formUrl: 'https://epay.esewa.com.np/api/epay/main/v2/form',
  statusUrl: 'https://epay.esewa.com.np/api/epay/transaction/status/',
};

/** eSewa's sandbox merchant, as its documentation publishes it. */
export const ESEWA_SANDBOX_MERCHANT: EsewaMerchant = { productCode: 'EPAYTEST', secretKey: '8gBm/:&EnhH.1/q' };

/** Both endpoints under one base URL with eSewa's paths (the local simulator, a test double). */
export function esewaEndpoints(baseUrl: string): EsewaEndpoints {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return { formUrl: new URL('api/epay/main/v2/form', base).href, statusUrl: new URL('api/epay/transaction/status/', base).href };
}

/** The fields the request form signs, in the order eSewa requires. */
export const ESEWA_FORM_SIGNED_FIELDS = 'total_amount,transaction_uuid,product_code';

/** Fields a success redirect must sign for us to read it. */
const REDIRECT_REQUIRED_SIGNED = ['transaction_code', 'status', 'total_amount', 'transaction_uuid', 'product_code'] as const;

/** eSewa: "alphanumeric and hyphen(-) only". The length bound is ours. */
const TRANSACTION_UUID = /^[A-Za-z0-9-]{1,100}$/;
const FIELD_NAME = /^[a-z_]{1,64}$/;
const MAX_REDIRECT_DATA = 8192;

/** base64 HMAC-SHA256 of `message` under the secret key's UTF-8 bytes. */
export function esewaSignature(secretKey: string, message: string): string {
  return createHmac('sha256', secretKey).update(message, 'utf8').digest('base64');
}

/** `name=value` for each name in `signedFieldNames`, joined by commas: the text eSewa signs. */
export function esewaSigningMessage(values: Readonly<Record<string, string>>, signedFieldNames: string): string {
  return signedFieldNames
    .split(',')
    .map((name) => {
      const value = values[name];
      if (value === undefined) throw new DomainError('VALIDATION_FAILED', `signed field ${name} has no value`, { field: name });
      return `${name}=${value}`;
    })
    .join(',');
}

export interface EsewaFormInput {
  /** The amount of the product, in paisa (eSewa's `amount`). */
  amountPaisa: number;
  taxPaisa?: number;
  serviceChargePaisa?: number;
  deliveryChargePaisa?: number;
  /** Our id of this attempt; unique per request. Alphanumerics and hyphens only. */
  transactionUuid: string;
  successUrl: string;
  failureUrl: string;
}

/** The ePay v2 form fields, every value a string as posted. */
export interface EsewaFormFields {
  amount: string;
  tax_amount: string;
  total_amount: string;
  transaction_uuid: string;
  product_code: string;
  product_service_charge: string;
  product_delivery_charge: string;
  success_url: string;
  failure_url: string;
  signed_field_names: string;
  signature: string;
}

export interface EsewaForm {
  /** POST these fields (application/x-www-form-urlencoded) from the payer's browser to this URL. */
  action: string;
  method: 'POST';
  fields: EsewaFormFields;
  /** The total in paisa: amount + tax + service charge + delivery charge. */
  totalPaisa: number;
}

function httpUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DomainError('VALIDATION_FAILED', `${field} must be an absolute http(s) URL`, { field });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DomainError('VALIDATION_FAILED', `${field} must be an absolute http(s) URL`, { field });
  return value;
}

/**
 * The signed request form for one payment attempt. Amounts are sent as rupees written exactly
 * (`paisaToRupees`), and the signature covers `total_amount` as it is sent.
 * @throws DomainError VALIDATION_FAILED naming the field for an amount that is not whole paisa
 *   (or a total of zero), a transaction UUID eSewa does not accept, or a URL that is not http(s).
 */
export function buildEsewaForm(merchant: EsewaMerchant, endpoints: EsewaEndpoints, input: EsewaFormInput): EsewaForm {
  if (!TRANSACTION_UUID.test(input.transactionUuid)) {
    throw new DomainError('VALIDATION_FAILED', 'transactionUuid must be 1 to 100 letters, digits or hyphens', { field: 'transactionUuid' });
  }
  const amount = paisaToRupees(input.amountPaisa, 'amountPaisa');
  const tax = paisaToRupees(input.taxPaisa ?? 0, 'taxPaisa');
  const service = paisaToRupees(input.serviceChargePaisa ?? 0, 'serviceChargePaisa');
  const delivery = paisaToRupees(input.deliveryChargePaisa ?? 0, 'deliveryChargePaisa');
  const totalPaisa = input.amountPaisa + (input.taxPaisa ?? 0) + (input.serviceChargePaisa ?? 0) + (input.deliveryChargePaisa ?? 0);
  if (totalPaisa <= 0) throw new DomainError('VALIDATION_FAILED', 'the total must be more than zero', { field: 'amountPaisa' });
  const total = paisaToRupees(totalPaisa, 'amountPaisa');
  const unsigned = {
    amount,
    tax_amount: tax,
    total_amount: total,
    transaction_uuid: input.transactionUuid,
    product_code: merchant.productCode,
    product_service_charge: service,
    product_delivery_charge: delivery,
    success_url: httpUrl(input.successUrl, 'successUrl'),
    failure_url: httpUrl(input.failureUrl, 'failureUrl'),
    signed_field_names: ESEWA_FORM_SIGNED_FIELDS,
  };
  const signature = esewaSignature(merchant.secretKey, esewaSigningMessage(unsigned, ESEWA_FORM_SIGNED_FIELDS));
  return { action: endpoints.formUrl, method: 'POST', fields: { ...unsigned, signature }, totalPaisa };
}

/** What a success redirect claims, after its signature verified. Still only a claim: ask the status API. */
export interface EsewaRedirect {
  transactionCode: string;
  /** eSewa's status word in the redirect (`COMPLETE`). */
  status: string;
  /** `total_amount` exactly as received (`"1000.0"`). */
  totalAmount: string;
  amountPaisa: number;
  transactionUuid: string;
  productCode: string;
  signedFieldNames: string[];
  /** The decoded JSON. */
  raw: unknown;
}

/** Canonical standard base64 (with padding) of `bytes` bytes, or of any length when omitted. */
function strictBase64(text: string, bytes?: number): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const decoded = Buffer.from(text, 'base64');
  // One spelling per byte string: the unused low bits of the last character must be zero.
  if (decoded.toString('base64') !== text) return null;
  if (bytes !== undefined && decoded.length !== bytes) return null;
  return decoded;
}

function scalarSource(node: SourcedJson | undefined): string | null {
  if (node === undefined) return null;
  if (node.kind === 'string' || node.kind === 'number') return node.source;
  return null;
}

/**
 * Verifies the `data` parameter of eSewa's success redirect with the merchant's secret key.
 * @throws GatewayDataError naming the field at fault (`data`, `signed_field_names`, `signature`,
 *   a signed field that is missing or not a string or number, `product_code` of another
 *   merchant, a `total_amount` that is not exact rupees and paisa, a bad `transaction_uuid`).
 */
export function verifyEsewaRedirect(merchant: EsewaMerchant, data: unknown): EsewaRedirect {
  const refuse = (field: string, message: string): never => {
    throw new GatewayDataError('esewa', field, message);
  };
  if (typeof data !== 'string' || data.length === 0) return refuse('data', 'data is missing');
  if (data.length > MAX_REDIRECT_DATA) return refuse('data', `data is longer than ${String(MAX_REDIRECT_DATA)} characters`);
  const bytes = strictBase64(data);
  if (bytes === null) return refuse('data', 'data is not canonical base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return refuse('data', 'data does not decode to UTF-8 text');
  }
  const json = parseSourcedJson(text);
  if (json?.kind !== 'object') return refuse('data', 'data does not decode to a JSON object');
  const fields = json.entries;

  const namesNode = fields.get('signed_field_names');
  if (namesNode?.kind !== 'string') return refuse('signed_field_names', 'signed_field_names is missing or not a string');
  const names = namesNode.value.split(',');
  if (names.some((name) => !FIELD_NAME.test(name))) return refuse('signed_field_names', 'signed_field_names is not a list of field names');
  if (new Set(names).size !== names.length) return refuse('signed_field_names', 'signed_field_names repeats a field');
  for (const required of REDIRECT_REQUIRED_SIGNED) {
    if (!names.includes(required)) return refuse('signed_field_names', `signed_field_names does not cover ${required}`);
  }
  const values: Record<string, string> = {};
  for (const name of names) {
    const source = scalarSource(fields.get(name));
    if (source === null) return refuse(name, `signed field ${name} is missing or not a string or number`);
    values[name] = source;
  }

  const signatureNode = fields.get('signature');
  if (signatureNode?.kind !== 'string') return refuse('signature', 'signature is missing or not a string');
  const received = strictBase64(signatureNode.value, 32);
  if (received === null) return refuse('signature', 'signature is not the base64 of an HMAC-SHA256');
  const expected = createHmac('sha256', merchant.secretKey).update(esewaSigningMessage(values, namesNode.value), 'utf8').digest();
  if (!timingSafeEqual(received, expected)) return refuse('signature', 'signature does not verify');

  const string = (name: string): string => {
    const node = fields.get(name);
    return node?.kind === 'string' ? node.value : refuse(name, `${name} must be a string`);
  };
  const productCode = string('product_code');
  if (productCode !== merchant.productCode) refuse('product_code', 'product_code is not this merchant');
  const transactionUuid = string('transaction_uuid');
  if (!TRANSACTION_UUID.test(transactionUuid)) refuse('transaction_uuid', 'transaction_uuid is not letters, digits and hyphens');
  const totalAmount = values.total_amount ?? '';
  const amountPaisa = rupeesToPaisa(totalAmount);
  if (amountPaisa === null) return refuse('total_amount', 'total_amount is not an amount in rupees and paisa');
  return {
    transactionCode: string('transaction_code'),
    status: string('status'),
    totalAmount,
    amountPaisa,
    transactionUuid,
    productCode,
    signedFieldNames: names,
    raw: plainJson(json),
  };
}

/** eSewa's status words, as its status API documents them. */
export const ESEWA_STATUSES = ['PENDING', 'COMPLETE', 'FULL_REFUND', 'PARTIAL_REFUND', 'AMBIGUOUS', 'NOT_FOUND', 'CANCELED'] as const;
export type EsewaStatus = (typeof ESEWA_STATUSES)[number];

const ESEWA_STATE: Record<EsewaStatus, VerificationState> = {
  PENDING: 'pending',
  COMPLETE: 'complete',
  FULL_REFUND: 'refunded',
  PARTIAL_REFUND: 'partially_refunded',
  AMBIGUOUS: 'ambiguous',
  NOT_FOUND: 'not_found',
  CANCELED: 'canceled',
};

/** eSewa's status word as our state; a word eSewa does not document is held as `ambiguous`. */
export function mapEsewaStatus(status: string): VerificationState {
  return (ESEWA_STATUSES as readonly string[]).includes(status) ? ESEWA_STATE[status as EsewaStatus] : 'ambiguous';
}

export interface EsewaStatusQuery {
  transactionUuid: string;
  /** The total of the attempt, in paisa: sent as rupees the way the form sent it. */
  totalPaisa: number;
}

/**
 * Asks eSewa's status API about one transaction (GET with product_code, total_amount,
 * transaction_uuid).
 * @throws GatewayUnavailableError no answer, a timeout, a 5xx, eSewa's "Service is currently
 *   unavailable", or a body that is not the documented shape (or is about another transaction).
 * @throws GatewayRefusedError eSewa refused the query itself (a 4xx with an error message).
 */
export async function checkEsewaStatus(
  merchant: Pick<EsewaMerchant, 'productCode'>,
  endpoints: Pick<EsewaEndpoints, 'statusUrl'>,
  query: EsewaStatusQuery,
  http: HttpOptions = {},
): Promise<GatewayVerification> {
  if (!TRANSACTION_UUID.test(query.transactionUuid)) {
    throw new DomainError('VALIDATION_FAILED', 'transactionUuid must be 1 to 100 letters, digits or hyphens', { field: 'transactionUuid' });
  }
  const url = new URL(endpoints.statusUrl);
  url.searchParams.set('product_code', merchant.productCode);
  url.searchParams.set('total_amount', paisaToRupees(query.totalPaisa, 'totalPaisa'));
  url.searchParams.set('transaction_uuid', query.transactionUuid);
  const response = await gatewayRequest('esewa', url.href, { method: 'GET', headers: { Accept: 'application/json' } }, http);
  const body = parseGatewayBody('esewa', response);
  const bad = (message: string): never => {
    throw new GatewayUnavailableError('esewa', 'bad_response', message, response.status);
  };
  if (body.kind !== 'object') return bad('the status API answered something other than a JSON object');
  const fields = body.entries;
  const errorMessage = fields.get('error_message');
  if (errorMessage !== undefined) {
    const message = errorMessage.kind === 'string' ? errorMessage.value : 'an error';
    // eSewa documents this answer for its own outage ("Server connection timeout").
    if (/unavailable/i.test(message) || response.status < 400) throw new GatewayUnavailableError('esewa', 'unavailable', message, response.status);
    throw new GatewayRefusedError('esewa', response.status, message, plainJson(body));
  }
  if (response.status !== 200) return bad(`the status API answered HTTP ${String(response.status)} without an error message`);
  const status = fields.get('status');
  if (status?.kind !== 'string') return bad('the status API answer has no status');
  const echoedUuid = fields.get('transaction_uuid');
  if (echoedUuid?.kind !== 'string' || echoedUuid.value !== query.transactionUuid) return bad('the status API answered about another transaction_uuid');
  const echoedProduct = fields.get('product_code');
  if (echoedProduct?.kind !== 'string' || echoedProduct.value !== merchant.productCode) return bad('the status API answered about another product_code');
  const amountSource = scalarSource(fields.get('total_amount'));
  const amountPaisa = amountSource === null ? null : rupeesToPaisa(amountSource);
  if (amountPaisa === null) return bad('the status API answer has no total_amount in rupees and paisa');
  const refId = fields.get('ref_id');
  let gatewayTransactionId: string | null = null;
  if (refId?.kind === 'string' && refId.value !== '') gatewayTransactionId = refId.value;
  else if (refId !== undefined && refId.kind !== 'null' && !(refId.kind === 'string' && refId.value === '')) return bad('ref_id is neither a string nor null');
  return {
    gateway: 'esewa',
    state: mapEsewaStatus(status.value),
    gatewayStatus: status.value,
    reference: query.transactionUuid,
    gatewayTransactionId,
    amountPaisa,
    raw: plainJson(body),
  };
}
