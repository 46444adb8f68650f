import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWorkerMetricsListener } from '../../src/temporal/worker-metrics.ts';

const listening = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

test("the worker's /metrics serves its process metrics and the SDK core's, and says when the core's are missing", async () => {
  // Stands in for the Temporal core's exporter (the int test runs the real one).
  const core = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# TYPE temporal_worker_start_total counter\ntemporal_worker_start_total{namespace="default"} 1\n'));
  const corePort = await listening(core);
  const warnings: object[] = [];
  const listener = await startWorkerMetricsListener({ host: '127.0.0.1', port: 0, sdkMetricsUrl: `http://127.0.0.1:${corePort}/metrics`, sdkTimeoutMs: 500, log: { warn: (obj) => warnings.push(obj) } });
  const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  try {
    const scraped = await fetch(`${url}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await scraped.text();
    expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(body).toMatch(/^sadasya_worker_sdk_metrics_up 1$/m);
    expect(body).toMatch(/^temporal_worker_start_total\{namespace="default"\} 1$/m);
    expect(warnings).toEqual([]);

    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(404);

    await closed(core);
    const without = await (await fetch(`${url}/metrics`)).text();
    expect(without).toMatch(/^sadasya_worker_sdk_metrics_up 0$/m);
    expect(without).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(without).not.toMatch(/temporal_worker_start_total/);
    expect(warnings).toHaveLength(1);
  } finally {
    await closed(listener);
    if (core.listening) await closed(core);
  }
});
