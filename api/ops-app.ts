import express, { type Express } from 'express';
import { healthRoutes, type HealthDeps } from './health.ts';
import type { Metrics } from './metrics.ts';

/**
 * The private ops listener (METRICS_HOST:METRICS_PORT, loopback by default): `/metrics`, and
 * `/readyz` with each check's error detail. Nothing here is part of the public API or its
 * OpenAPI document; bind it where only the scraper and the operator reach it.
 */
export function createOpsApp(deps: HealthDeps & { metrics: Metrics }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(deps, { detail: true }));
  app.use(deps.metrics.router);
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  return app;
}
