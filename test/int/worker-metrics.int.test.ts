import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CHAIN_ANCHORING_SCHEDULE_ID } from '../../src/temporal/schedules.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startEntryPoint, waitFor, type EntryPointProcess } from '../support/entry-points.ts';
import { freePort } from '../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';

// The worker's metrics (docs/observability.md): `npm run worker` as its own process (the Temporal
// runtime is installed once per process, so not inside jest), WORKER_METRICS_PORT set.

let db: TestDatabase;
let smtp: SmtpCapture;
let tmp: string;
let worker: EntryPointProcess | undefined;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtpCapture();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sadasya-test-worker-metrics-'));
  client = new Client({ connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }) });
});

afterAll(async () => {
  await worker?.stop();
  await client?.connection.close();
  await Promise.allSettled([db?.close(), smtp?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const scrape = (url: string, until: (body: string) => boolean) =>
  waitFor(`${url} answering what is expected`, async () => {
    const body = await fetch(url).then((res) => (res.ok ? res.text() : ''));
    return until(body) ? body : undefined;
  }, [worker!]);

test('the worker serves its process metrics and the Temporal SDK runtime metrics on WORKER_METRICS_PORT; the core exporter stays on loopback', async () => {
  const metricsPort = await freePort();
  const sdkPort = await freePort();
  worker = startEntryPoint('worker', {
    HOME: tmp, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATA_DIR: tmp,
    DATABASE_URL: db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, SMTP_URL: smtp.url,
    MASTER_KEY: randomBytes(32).toString('base64'),
    WORKER_METRICS_PORT: String(metricsPort), WORKER_SDK_METRICS_PORT: String(sdkPort),
  });
  const url = `http://127.0.0.1:${metricsPort}/metrics`;

  // Up: the pollers of the membership task queue are counted once the worker runs.
  const started = await scrape(url, (body) => /^temporal_num_pollers\{.*task_queue="membership".*\} \d/m.test(body));
  expect(started).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(started).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  expect(started).toMatch(/^sadasya_worker_sdk_metrics_up 1$/m);
  expect(started).toMatch(/^temporal_worker_task_slots_available\{/m);

  // A workflow and its activities run (the chain anchoring, triggered now): their task metrics appear.
  await client.schedule.getHandle(CHAIN_ANCHORING_SCHEDULE_ID).trigger();
  const ran = await scrape(url, (body) => /^temporal_activity_execution_latency_count\{/m.test(body) && /^temporal_workflow_completed_total\{/m.test(body));
  expect(ran).toMatch(/^temporal_workflow_task_schedule_to_start_latency_bucket\{/m);
  expect(ran).toMatch(/^temporal_activity_schedule_to_start_latency_bucket\{/m);

  // The core's own exporter answers on loopback only (the listener above is the one to expose).
  const core = await fetch(`http://127.0.0.1:${sdkPort}/metrics`);
  expect(core.status).toBe(200);
  const lan = Object.values(os.networkInterfaces()).flat().find((address) => address && address.family === 'IPv4' && !address.internal);
  if (lan) await expect(fetch(`http://${lan.address}:${sdkPort}/metrics`)).rejects.toThrow();
}, 240_000);
