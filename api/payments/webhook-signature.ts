import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

type WithRawBody = IncomingMessage & { rawBody?: Buffer };

/** express.json's `verify` hook: keeps the exact bytes a webhook's signature covers. */
export function captureRawBody(req: IncomingMessage, _res: unknown, body: Buffer): void {
  (req as WithRawBody).rawBody = body;
}

export function rawBodyOf(req: IncomingMessage): Buffer | undefined {
  return (req as WithRawBody).rawBody;
}

/** How far a signature's timestamp may be from the API's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 5 * 60;
/** Every party and provider is checked against at least this many keys, so the work does not tell whether it has a secret. */
const MIN_KEYS = 2;

export interface SignatureHeader {
  timestamp: number;
  signatures: Buffer[];
}

/** `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: the timestamp first, then one to four signatures. */
export const SIGNATURE_HEADER = /^t=(\d{1,12})((?:,v1=[0-9a-fA-F]{64}){1,4})$/;

/** The timestamp and signatures of an X-Signature header, or null when it is malformed. */
export function parseSignatureHeader(header: string | undefined): SignatureHeader | null {
  const [, timestamp, signatures] = SIGNATURE_HEADER.exec(header?.trim() ?? '') ?? [];
  if (timestamp === undefined || signatures === undefined) return null;
  return { timestamp: Number(timestamp), signatures: signatures.slice(1).split(',').map((item) => Buffer.from(item.slice('v1='.length), 'hex')) };
}

/** What is signed: `<timestamp>.<party slug>.<provider>.<raw body>`. */
function signedPayload(timestamp: number, party: string, provider: string, rawBody: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}.${party}.${provider}.`, 'utf8'), rawBody]);
}

function mac(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

export interface SignedRequest {
  party: string;
  provider: string;
  rawBody: Buffer | undefined;
  header: string | undefined;
  now: Date;
}

/**
 * Whether one v1 signature in the header is the HMAC-SHA256 of the signed payload under one of
 * `keys`, with its timestamp within SIGNATURE_TOLERANCE_S of `now`. Every pair of key and
 * signature is compared (in constant time), and at least MIN_KEYS keys are tried (random ones
 * when the party has fewer), so an unknown party or provider costs what a known one does.
 */
export function webhookSignatureIsValid(keys: readonly Buffer[], request: SignedRequest): boolean {
  const parsed = parseSignatureHeader(request.header);
  const candidates = keys.length >= MIN_KEYS ? keys : [...keys, ...Array.from({ length: MIN_KEYS - keys.length }, () => randomBytes(32))];
  const payload = signedPayload(parsed?.timestamp ?? 0, request.party, request.provider, request.rawBody ?? Buffer.alloc(0));
  const offered = parsed?.signatures ?? [Buffer.alloc(32)];
  let matched = false;
  candidates.forEach((key, index) => {
    const expected = mac(key, payload);
    for (const signature of offered) {
      if (timingSafeEqual(expected, signature) && index < keys.length) matched = true;
    }
  });
  if (!parsed || !request.rawBody) return false;
  return matched && Math.abs(request.now.getTime() / 1000 - parsed.timestamp) <= SIGNATURE_TOLERANCE_S;
}

/** The X-Signature header a provider sends: `t=<timestamp>,v1=<hex>` for each secret it signs with. */
export function signWebhook(secrets: string | readonly string[], party: string, provider: string, rawBody: string | Buffer, at: Date = new Date()): string {
  const timestamp = Math.floor(at.getTime() / 1000);
  const payload = signedPayload(timestamp, party, provider, Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8'));
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return [`t=${timestamp}`, ...list.map((secret) => `v1=${mac(Buffer.from(secret, 'utf8'), payload).toString('hex')}`)].join(',');
}
