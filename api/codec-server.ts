import express, { type RequestHandler, type Router } from 'express';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { DecryptionError } from '../src/crypto/aead.ts';
import type { EncryptionCodec } from '../src/temporal/payload-codec.ts';
import { requirePlatformAdmin } from './auth/context.ts';
import { ApiError, ValidationError } from './http/errors.ts';

export interface CodecServerDeps {
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
 * administrator key see payloads decoded; anyone else gets 401 and nothing decoded. A payload
 * sealed under a key this process does not hold is refused with 422, naming the payload.
 */
export function codecRoutes(deps: CodecServerDeps): Router {
  const router = express.Router();
  router.use('/codec', corsForUi(deps.uiOrigin), requirePlatformAdmin(deps.platformAdminKey), express.json({ limit: BODY_LIMIT }));
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
