import { createServer, type Server } from 'node:http';
import { Runtime } from '@temporalio/worker';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The worker's metrics (docs/observability.md, "Worker"): one scrape target, `/metrics` on
 * WORKER_METRICS_HOST:WORKER_METRICS_PORT, serving the worker process's own metrics (prom-client's
 * process and Node.js metrics) followed by the Temporal SDK core's runtime metrics (`temporal_*`:
 * task slots, poll and schedule-to-start latencies, sticky cache, activity and workflow task
 * outcomes). The core exports those itself on an HTTP endpoint of its own; that one is bound to
 * loopback (WORKER_SDK_METRICS_PORT) and read by this listener at each scrape, so operators expose
 * one port per worker and the core's never leaves the host.
 */

/**
 * Installs the process's Temporal runtime with the core's Prometheus exporter on
 * 127.0.0.1:`sdkPort`. Once per process, before the first connection to Temporal (the runtime
 * is created by the first connection otherwise, without metrics): the worker's entry point
 * calls it first thing, and only when WORKER_METRICS_PORT is set.
 */
export function installTemporalRuntimeMetrics(sdkPort: number): void {
  Runtime.install({
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: `127.0.0.1:${sdkPort}`, useSecondsForDurations: true, countersTotalSuffix: true },
      },
    },
  });
}

export interface WorkerMetricsListenerOptions {
  host: string;
  port: number;
  /** The core's exporter (installTemporalRuntimeMetrics); absent: process metrics only. */
  sdkMetricsUrl?: string | undefined;
  /** How long a scrape waits for the core's exporter before it answers without its metrics. */
  sdkTimeoutMs?: number;
  log: { warn: (obj: object, msg: string) => void };
}

/**
 * Serves `/metrics` (and nothing else) for the worker. A scrape whose core exporter does not
 * answer still gets the process metrics, and `sadasya_worker_sdk_metrics_up 0` says the rest is
 * missing (an alert rule watches it).
 */
export async function startWorkerMetricsListener(options: WorkerMetricsListenerOptions): Promise<Server> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    void scrape(registry, options).then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => {
        options.log.warn({ err }, 'worker metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function scrape(registry: Registry, options: WorkerMetricsListenerOptions): Promise<string> {
  const own = await registry.metrics();
  if (!options.sdkMetricsUrl) return own;
  let sdk: string | undefined;
  try {
    const res = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(options.sdkTimeoutMs ?? 2_000) });
    if (res.ok) sdk = await res.text();
  } catch (err) {
    options.log.warn({ err, url: options.sdkMetricsUrl }, 'Temporal SDK metrics unavailable for this scrape');
  }
  const up = `# HELP sadasya_worker_sdk_metrics_up Whether this scrape holds the Temporal SDK core's runtime metrics\n# TYPE sadasya_worker_sdk_metrics_up gauge\nsadasya_worker_sdk_metrics_up ${sdk === undefined ? 0 : 1}\n`;
  return `${own.endsWith('\n') ? own : `${own}\n`}${up}${sdk ?? ''}`;
}
