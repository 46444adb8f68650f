import { Router } from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** `/metrics` in the Prometheus text format: process metrics and HTTP request counts. */
export function metricsRoutes(): Router {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
