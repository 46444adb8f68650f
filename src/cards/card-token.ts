import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalBase64urlBytes } from '../crypto/base64url.ts';
import { assertEd25519, cardKeyId } from './card-keys.ts';
import { DomainError } from '../errors/domain-error.ts';

export const CARD_TOKEN_VERSION = 1;
const MAX_TOKEN_CHARS = 1024;
const SIGNATURE_BYTES = 64;
const NEPAL_UTC_OFFSET_MS = (5 * 60 + 45) * 60_000;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const isoDate = z.iso.date().refine((d) => new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/** What a card token asserts. Deliberately no name, phone or email: a QR code is readable by anyone. */
export const CardClaims = z.object({
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  memberId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  memberNumber: z.string().regex(/^[A-Za-z0-9/_.-]{1,32}$/),
  validUntil: isoDate,
  tokenId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});
export type CardClaims = z.infer<typeof CardClaims>;

const Payload = z.strictObject({
  v: z.literal(CARD_TOKEN_VERSION),
  kid: z.string().regex(BASE64URL),
  ten: CardClaims.shape.tenant,
  mid: CardClaims.shape.memberId,
  num: CardClaims.shape.memberNumber,
  exp: CardClaims.shape.validUntil,
  jti: CardClaims.shape.tokenId,
});
type Payload = z.infer<typeof Payload>;

export interface VerifiedCardToken extends CardClaims {
  keyId: string;
}

export type CardTokenErrorCode = 'TOKEN_MALFORMED' | 'TOKEN_BAD_SIGNATURE' | 'TOKEN_EXPIRED';

export class CardTokenError extends DomainError {
  override readonly name = 'CardTokenError';
  declare readonly code: CardTokenErrorCode;
  /** Set on TOKEN_EXPIRED only: the token was genuine, just past its date. */
  readonly claims: VerifiedCardToken | undefined;

  constructor(code: CardTokenErrorCode, message: string, claims?: VerifiedCardToken) {
    super(code, message, { field: 'token' });
    this.claims = claims;
  }
}

function decodeSegment(segment: string | undefined): Buffer {
  if (!segment || !BASE64URL.test(segment)) throw new CardTokenError('TOKEN_MALFORMED', 'token segment is not base64url');
  const bytes = canonicalBase64urlBytes(segment);
  if (!bytes) throw new CardTokenError('TOKEN_MALFORMED', 'token segment is not canonical base64url');
  return bytes;
}

function parseToken(token: unknown): { signed: string; payload: Payload; signature: Buffer } {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw new CardTokenError('TOKEN_MALFORMED', 'token is not a short string');
  const parts = token.split('.');
  if (parts.length !== 2) throw new CardTokenError('TOKEN_MALFORMED', 'token must have exactly two segments');
  const [signed, signatureSegment] = parts as [string, string];
  const payloadBytes = decodeSegment(signed);
  const signature = decodeSegment(signatureSegment);
  if (signature.length !== SIGNATURE_BYTES) throw new CardTokenError('TOKEN_MALFORMED', 'signature has the wrong length');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch {
    throw new CardTokenError('TOKEN_MALFORMED', 'payload is not UTF-8 JSON');
  }
  const payload = Payload.safeParse(json);
  if (!payload.success) throw new CardTokenError('TOKEN_MALFORMED', `payload is invalid: ${z.prettifyError(payload.error)}`);
  return { signed, payload: payload.data, signature };
}

function toClaims(p: Payload): VerifiedCardToken {
  return { tenant: p.ten, memberId: p.mid, memberNumber: p.num, validUntil: p.exp, tokenId: p.jti, keyId: p.kid };
}

/** Today's date in Nepal (UTC+05:45, no daylight saving) as YYYY-MM-DD. */
export function nepalDate(now: Date): string {
  return new Date(now.getTime() + NEPAL_UTC_OFFSET_MS).toISOString().slice(0, 10);
}

/**
 * Signs a card token: base64url(JSON payload) "." base64url(Ed25519 signature over the first segment).
 * @throws TypeError when the key is not an Ed25519 private key.
 * @throws z.ZodError when a claim is out of shape.
 */
export function signCardToken(privateKey: KeyObject, claims: CardClaims): string {
  assertEd25519(privateKey, 'private');
  const c = CardClaims.parse(claims);
  const payload: Payload = { v: CARD_TOKEN_VERSION, kid: cardKeyId(privateKey), ten: c.tenant, mid: c.memberId, num: c.memberNumber, exp: c.validUntil, jti: c.tokenId };
  const signed = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${signed}.${sign(null, Buffer.from(signed, 'ascii'), privateKey).toString('base64url')}`;
}

/**
 * Reads a token's claims WITHOUT checking them, to choose which tenant's key to verify with.
 * @throws CardTokenError TOKEN_MALFORMED
 */
export function peekCardToken(token: string): VerifiedCardToken {
  return toClaims(parseToken(token).payload);
}

/**
 * A card is valid through the end of `validUntil` in Nepal time.
 * @throws CardTokenError TOKEN_MALFORMED, TOKEN_BAD_SIGNATURE (also for a token signed by another key) or TOKEN_EXPIRED.
 * @throws TypeError when the key is not an Ed25519 public key.
 */
export function verifyCardToken(publicKey: KeyObject, token: string, options: { now?: Date } = {}): VerifiedCardToken {
  assertEd25519(publicKey, 'public');
  const { signed, payload, signature } = parseToken(token);
  const expectedKeyId = cardKeyId(publicKey);
  if (payload.kid !== expectedKeyId) {
    throw new CardTokenError('TOKEN_BAD_SIGNATURE', `token names key ${payload.kid}, verifying with ${expectedKeyId}`);
  }
  if (!verify(null, Buffer.from(signed, 'ascii'), publicKey, signature)) {
    throw new CardTokenError('TOKEN_BAD_SIGNATURE', 'signature does not verify');
  }
  const claims = toClaims(payload);
  if (nepalDate(options.now ?? new Date()) > claims.validUntil) {
    throw new CardTokenError('TOKEN_EXPIRED', `card expired after ${claims.validUntil}`, claims);
  }
  return claims;
}
