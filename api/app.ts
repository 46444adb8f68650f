import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../src/logger.ts';
import { healthRoutes, type HealthDeps } from './health.ts';

export interface ApiDeps extends HealthDeps {
  log: Logger;
}

/** The HTTP API. Wiring (connections, keys) happens in api/server.ts; tests build it with their own deps. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(helmet());
  app.use(pinoHttp({
    logger: deps.log,
    genReqId: (req, res) => {
      const id = typeof req.headers['x-request-id'] === 'string' && /^[\w-]{1,64}$/.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    // Only the method, path and status: query strings and headers may carry personal data.
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }));
  app.use(healthRoutes(deps));
  return app;
}
