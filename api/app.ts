import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../src/logger.ts';
import { callerTransaction, requirePlatformAdmin, requireToken, requireUser } from './auth/context.ts';
import type { ApiDeps } from './deps.ts';
import { healthRoutes } from './health.ts';
import { ApiError, errorHandler, notFoundHandler } from './http/errors.ts';
import { RouteRegistry } from './http/route.ts';
import { readerOf } from './http/read-path.ts';
import { docsRoutes } from './docs.ts';
import { webPages } from './web/pages.ts';
import { features } from './features.ts';
import { metricsRoutes } from './metrics.ts';
import { failedLogins, perAddress } from './http/rate-limits.ts';
import { captureRawBody } from './payments/webhook-signature.ts';

export const BODY_LIMIT = '64kb';

const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0' || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is(['application/vnd.api+json', 'application/json'])) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send application/vnd.api+json or application/json');
  }
  next();
};

function requestLogging(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    // Only the method, path and status: query strings, bodies and headers may carry personal data.
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: (err: Error) => ({ type: err.name, message: err.message, stack: err.stack }),
    },
  });
}

/** The HTTP API. Wiring (connections, keys) happens in api/server.ts; tests build it with their own deps. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Whose X-Forwarded-For names the client (rate limits, audit): TRUSTED_PROXIES.
  app.set('trust proxy', deps.trustedProxies === undefined ? 'loopback' : deps.trustedProxies === 'none' ? false : deps.trustedProxies);
  app.set('query parser', 'extended');
  app.use(helmet());
  app.use(requestLogging(deps.log));
  // Measured here, served on the private ops listener (api/ops-app.ts), never on this one.
  app.use((deps.metrics ?? metricsRoutes()).measure);
  app.use(healthRoutes(deps, { detail: false }));
  const registry = new RouteRegistry();
  for (const register of features) register(registry, deps);
  app.use(docsRoutes(registry));
  app.use(webPages());
  // What the document promises, for tests that hold every answer to it (test/support/contract.ts).
  app.locals.registry = registry;
  // Registrations have their own, larger budget: a membership drive puts many applicants behind
  // one carrier-grade NAT address. Status links, logins and card checks share the other; payment
  // providers' webhooks are signed and not limited.
  app.post('/api/parties/:slug/applications', perAddress(deps.registrationRateLimit ?? 600));
  app.use(['/api/parties/:slug/applications/:id', '/api/parties/:slug/card-keys', '/api/parties/:slug/resignation-links', '/api/parties/:slug/resignations', '/api/auth', '/api/cards/verify',
    '/api/parties/:slug/transfer-links', '/api/parties/:slug/members/:id/transfers'], perAddress(deps.publicRateLimit ?? 120));
  app.use(jsonOnly);
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/vnd.api+json', 'application/json'], verify: captureRawBody }));
  app.post('/api/auth/login', ...failedLogins({ perAddress: deps.failedLoginsPerAddress ?? 10, perAccount: deps.failedLoginsPerAccount ?? 100 }));
  // A user's next search or statistics read sees their own change (nothing to do without a replica).
  app.use(registry.router({
    user: requireUser(deps.pool, deps.tokenSecret), platform: requirePlatformAdmin(deps.platformAdminKey),
    token: requireToken(deps.tokenSecret), callerTransaction: callerTransaction(deps, deps.keyring),
  }, { afterUserWrite: async (auth) => deps.reads?.noteWrite(readerOf(auth)) }));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}
