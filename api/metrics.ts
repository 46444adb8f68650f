import { Router, type RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BusinessMetricRow, BusinessMetricsSnapshot } from '../src/statistics/business-metrics.ts';

export type Metrics = ReturnType<typeof metricsRoutes>;

export interface MetricsOptions {
  /** The parties' business figures (src/statistics/business-metrics.ts cachedBusinessMetrics); absent: none reported. */
  business?: () => Promise<BusinessMetricsSnapshot>;
  /** Told when the business figures could not be read (the scrape still answers, with sadasya_business_metrics_up 0). */
  onBusinessError?: (err: unknown) => void;
}

/**
 * `/metrics` in the Prometheus text format, served on the private ops listener only
 * (api/ops-app.ts); `measure` runs on the public API: process metrics and request durations by method,
 * route pattern (never the raw path, which holds ids) and status; and, given a source, the
 * parties' business figures labelled by party slug (docs/observability.md).
 */
export function metricsRoutes(options: MetricsOptions = {}): { router: Router; measure: RequestHandler } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const beginScrape = options.business ? registerBusinessMetrics(registry, options.business, options.onBusinessError) : () => undefined;
  const measure: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    beginScrape();
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { router, measure };
}

/**
 * The figures of migrations/0037 business_metrics(), set afresh at each scrape from one cached
 * read: nothing is counted in this process, so a restart loses nothing and every API process
 * reports the same values (aggregate with max by (party, ...), not sum).
 */
function registerBusinessMetrics(registry: Registry, source: () => Promise<BusinessMetricsSnapshot>, onError: (err: unknown) => void = () => undefined): () => void {
  // One read per scrape, shared by the metrics below; beginScrape (returned) starts the next one.
  let read: Promise<BusinessMetricsSnapshot | undefined> | undefined;
  const snapshot = () => (read ??= source().catch((err: unknown) => {
    onError(err);
    return undefined;
  }));
  /** One metric of the read: its rows' label becomes `labelName`, beside `party`; set afresh at each scrape. */
  const figure = (metric: BusinessMetricRow['metric'], Kind: typeof Counter | typeof Gauge, name: string, help: string, labelName: string) => {
    const set = (target: Counter | Gauge, labels: Record<string, string>, value: number) => (target instanceof Gauge ? target.set(labels, value) : target.inc(labels, value));
    new Kind({
      name, help, labelNames: ['party', labelName], registers: [registry],
      async collect() {
        const rows = ((await snapshot())?.rows ?? []).filter((row) => row.metric === metric);
        this.reset();
        for (const row of rows) set(this, { party: row.party, [labelName]: row.label }, row.value);
      },
    });
  };
  figure('events', Counter, 'sadasya_events_total', 'Events recorded per party and event type (MemberRegistered: applications; MemberApproved, MemberRejected; PaymentReceived, RenewalPaymentReceived; MemberLapsed, MemberTermLapsed)', 'type');
  figure('members', Gauge, 'sadasya_members', 'Members per party and status now', 'status');
  figure('oldest_waiting_seconds', Gauge, 'sadasya_oldest_waiting_seconds',
    'How long the longest waiting member of the party has been in the stage (awaiting_approval: since applying; awaiting_payment: since approval); 0 when none waits', 'stage');
  new Gauge({
    name: 'sadasya_business_metrics_up',
    help: 'Whether this scrape could read the business figures from the database',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  return () => {
    read = undefined;
  };
}
