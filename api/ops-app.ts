import express, { type Express } from 'express';
import { codecRoutes, type CodecServerDeps } from './codec-server.ts';
import { healthRoutes, type HealthDeps } from './health.ts';
import { errorHandler } from './http/errors.ts';
import type { Metrics } from './metrics.ts';

/**
 * The private ops listener (METRICS_HOST:METRICS_PORT, loopback by default): `/metrics`,
 * `/readyz` with each check's error detail, and (given a codec) the Temporal codec server
 * `/codec/decode` and `/codec/encode` for operators (api/codec-server.ts). Nothing here is part
 * of the public API or its OpenAPI document; bind it where only the scraper and the operator reach it.
 */
export function createOpsApp(deps: HealthDeps & { metrics: Metrics; codec?: CodecServerDeps; log?: { error: (obj: object, msg: string) => void } }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(deps, { detail: true }));
  app.use(deps.metrics.router);
  if (deps.codec) app.use(codecRoutes(deps.codec));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  app.use(errorHandler(deps.log ?? { error: () => undefined }));
  return app;
}
