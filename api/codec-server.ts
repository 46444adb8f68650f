import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { DecryptionError } from '../src/crypto/aead.ts';
import type { EncryptionCodec } from '../src/temporal/payload-codec.ts';
import { bearer } from './auth/context.ts';
import { ApiError, ValidationError } from './http/errors.ts';

export interface CodecServerDeps {
  /** Now, for the sign-in cookie's expiry. */
  clock?: () => Date;
  codec: EncryptionCodec;
  /** The operators' credential (PLATFORM_ADMIN_KEY), sent as `Authorization: Bearer …`; without one configured every call is refused. */
  platformAdminKey: string | undefined;
  /** The Temporal UI's origin (TEMPORAL_UI_ORIGIN): the only origin a browser may call the codec from. */
  uiOrigin?: string | undefined;
}

// Temporal's payload limit is 2 MB; a history page holds many, base64 adds a third.
const BODY_LIMIT = '16mb';
const MAX_PAYLOADS = 10_000;
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
/** The codec server protocol's body: Temporal payloads in proto JSON, their bytes base64. */
const PayloadsBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })).max(MAX_PAYLOADS),
});
type JsonPayload = z.infer<typeof PayloadsBody>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/** How long a browser's codec sign-in lasts. */
export const CODEC_SESSION_SECONDS = 8 * 3600;
export const CODEC_SESSION_COOKIE = 'sadasya-codec';

const sha256 = (text: string) => createHash('sha256').update(text).digest();
const sessionMac = (adminKey: string, expires: number) => createHmac('sha256', adminKey).update(`sadasya codec session|${expires}`).digest('base64url');

function cookieValue(req: Request, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

/**
 * Who may use the codec: a caller presenting the platform administrator key as a bearer token
 * (the Temporal CLI's `--codec-auth`), or a browser holding the sign-in cookie `/codec/login`
 * set after the key was typed there (the Temporal UI sends it with
 * TEMPORAL_CODEC_INCLUDE_CREDENTIALS). The cookie is an expiry and an HMAC of it under the key:
 * a new key ends every sign-in.
 */
function codecOperator(adminKey: string | undefined, clock: () => Date) {
  const expected = adminKey ? sha256(adminKey) : null;
  const keyMatches = (given: string | null) => expected !== null && given !== null && timingSafeEqual(sha256(given), expected);
  const sessionValid = (value: string | null) => {
    const [expires, mac] = (value ?? '').split('.');
    const at = Number(expires);
    return adminKey !== undefined && Number.isSafeInteger(at) && at > clock().getTime() / 1000 && mac !== undefined
      && timingSafeEqual(sha256(mac), sha256(sessionMac(adminKey, at)));
  };
  return {
    keyMatches,
    require: ((req, _res, next) => {
      if (!keyMatches(bearer(req.headers.authorization)) && !sessionValid(cookieValue(req, CODEC_SESSION_COOKIE))) {
        throw new ApiError('UNAUTHENTICATED', 'the platform administrator key is required (Authorization: Bearer, or sign in at /codec/login)');
      }
      next();
    }) satisfies RequestHandler,
  };
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Codec sign-in</title></head>
<body><h1>Decode Temporal payloads</h1>
<p>Sign in with the platform administrator key: for eight hours this browser's Temporal UI shows workflow payloads decoded.</p>
<form method="post" action="/codec/login"><label>Platform administrator key <input type="password" name="key" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>
<form method="post" action="/codec/logout"><button type="submit">Sign out</button></form></body></html>
`;

/**
 * CORS for the Temporal UI: its origin, and no other, may call the codec from a browser, with the
 * headers the UI sends (the operator's bearer token, the namespace). Preflights end here.
 */
function corsForUi(origin: string | undefined): RequestHandler {
  return (req, res, next) => {
    res.vary('Origin');
    if (origin !== undefined && req.headers.origin === origin) {
      res.set({
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, x-namespace',
        'access-control-max-age': '600',
      });
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

/**
 * Temporal's codec server protocol (`POST /codec/decode`, `POST /codec/encode`, body and answer
 * `{ payloads: [...] }`) over the product's payload codec, for the Temporal UI and CLI
 * (`--codec-endpoint …/codec --codec-auth "Bearer <key>"`): operators holding the platform
 * administrator key, or signed in with it at `/codec/login`, see payloads decoded; anyone else
 * gets 401 and nothing decoded. A payload
 * sealed under a key this process does not hold is refused with 422, naming the payload.
 */
export function codecRoutes(deps: CodecServerDeps): Router {
  const router = express.Router();
  const clock = deps.clock ?? (() => new Date());
  const operator = codecOperator(deps.platformAdminKey, clock);
  router.use('/codec', corsForUi(deps.uiOrigin));
  router.get('/codec/login', (_req, res) => {
    res.set({ 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; form-action 'self'" }).type('html').send(LOGIN_PAGE);
  });
  router.post('/codec/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const key = (req.body as { key?: unknown } | undefined)?.key;
    if (!operator.keyMatches(typeof key === 'string' ? key : null)) throw new ApiError('UNAUTHENTICATED', 'the platform administrator key is required');
    const expires = Math.floor(clock().getTime() / 1000) + CODEC_SESSION_SECONDS;
    res.cookie(CODEC_SESSION_COOKIE, `${expires}.${sessionMac(deps.platformAdminKey!, expires)}`, {
      httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/codec', maxAge: CODEC_SESSION_SECONDS * 1000,
    });
    res.set('cache-control', 'no-store').type('text/plain').send(`signed in until ${new Date(expires * 1000).toISOString()}: the Temporal UI in this browser decodes payloads\n`);
  });
  router.post('/codec/logout', (_req, res) => {
    res.clearCookie(CODEC_SESSION_COOKIE, { path: '/codec' }).type('text/plain').send('signed out\n');
  });
  router.use('/codec', operator.require, express.json({ limit: BODY_LIMIT }));
  const route = (transform: (payload: Payload, index: number) => Payload): RequestHandler => (req, res) => {
    const parsed = PayloadsBody.safeParse(req.body);
    if (!parsed.success) throw new ValidationError(parsed.error.issues, 'body');
    res.json({ payloads: parsed.data.payloads.map((p, index) => toJson(transform(fromJson(p), index))) });
  };
  router.post('/codec/decode', route((payload, index) => {
    try {
      return deps.codec.decodeOne(payload);
    } catch (err) {
      if (err instanceof DecryptionError) throw new ApiError('VALIDATION_FAILED', `payloads/${index}: ${err.message}`, { pointer: `/payloads/${index}` });
      throw err;
    }
  }));
  router.post('/codec/encode', route((payload) => deps.codec.encodeOne(payload)));
  return router;
}
