import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

type WithRawBody = IncomingMessage & { rawBody?: Buffer };

/** express.json's `verify` hook: keeps the exact bytes a webhook's signature covers. */
export function captureRawBody(req: IncomingMessage, _res: unknown, body: Buffer): void {
  (req as WithRawBody).rawBody = body;
}

export function rawBodyOf(req: IncomingMessage): Buffer | undefined {
  return (req as WithRawBody).rawBody;
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time. */
export function signatureIsValid(secret: string | undefined, rawBody: Buffer | undefined, header: string | undefined): boolean {
  const hex = SIGNATURE.exec(header?.trim() ?? '')?.[1];
  if (!secret || !rawBody || !hex) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

export function signBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
