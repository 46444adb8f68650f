import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CHAIN_ANCHORING_SCHEDULE_ID } from '../../src/temporal/schedules.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { makeTenant, seedMiniGeography } from '../support/fixtures.ts';
import { referencedMetricNames, sampleNames } from '../support/observability-files.ts';
import { startEntryPoint, waitFor, type EntryPointProcess } from '../support/entry-points.ts';
import { freePort } from '../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';

// The worker's metrics (docs/observability.md): `npm run worker` as its own process (the Temporal
// runtime is installed once per process, so not inside jest), WORKER_METRICS_PORT set; then
// `npm run api` beside it, and every metric the dashboard and the alert rules name scraped from the two.

let db: TestDatabase;
let smtp: SmtpCapture;
let tmp: string;
let worker: EntryPointProcess | undefined;
let api: EntryPointProcess | undefined;
let workerMetricsUrl: string;
const masterKey = randomBytes(32).toString('base64');
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtpCapture();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sadasya-test-worker-metrics-'));
  client = new Client({ connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }) });
});

afterAll(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await client?.connection.close();
  await Promise.allSettled([db?.close(), smtp?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const scrape = (url: string, until: (body: string) => boolean) =>
  waitFor(`${url} answering what is expected`, async () => {
    const body = await fetch(url).then((res) => (res.ok ? res.text() : ''));
    return until(body) ? body : undefined;
  }, [worker!, ...(api ? [api] : [])]);

test('the worker serves its process metrics and the Temporal SDK runtime metrics on WORKER_METRICS_PORT; the core exporter stays on loopback', async () => {
  const metricsPort = await freePort();
  const sdkPort = await freePort();
  worker = startEntryPoint('worker', {
    HOME: tmp, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATA_DIR: tmp,
    DATABASE_URL: db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, SMTP_URL: smtp.url,
    MASTER_KEY: masterKey,
    WORKER_METRICS_PORT: String(metricsPort), WORKER_SDK_METRICS_PORT: String(sdkPort),
  });
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  workerMetricsUrl = url;

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

test('every metric the Grafana dashboard and the Prometheus alert rules name is served by the running API or worker', async () => {
  // The API as compose runs it, one application recorded through it (events, members, request durations).
  const geo = await seedMiniGeography(db.owner);
  const party = await makeTenant(db.app, new Keyring(masterKeyFromBase64(masterKey)), `scraped-${db.name.slice(-6)}`, 'SCR');
  const [apiPort, opsPort] = [await freePort(), await freePort()];
  api = startEntryPoint('api', {
    HOME: tmp, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATA_DIR: tmp, MASTER_KEY: masterKey,
    DATABASE_URL: db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, AUTH_TOKEN_SECRET: randomBytes(32).toString('base64'),
    API_PORT: String(apiPort), METRICS_PORT: String(opsPort),
  });
  await waitFor('the API ready', async () => ((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok ? true : undefined), [worker!, api]);
  const applied = await fetch(`http://127.0.0.1:${apiPort}/api/parties/${party.slug}/applications`, {
    method: 'POST', headers: { 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'applications', attributes: { fullNameEn: 'Hari Scraped', gender: 'M', phone: '9841555001', wardId: geo.wardIds[0], ...ELIGIBLE } } }),
  });
  expect(applied.status).toBe(201);

  // A workflow task that fails (a type the worker's code does not have, as after a bad deploy) is counted for its alert.
  const broken = await client.workflow.start('workflowTheWorkerDoesNotHave', { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: `broken-${db.name}`, args: [] });
  const apiMetrics = await scrape(`http://127.0.0.1:${opsPort}/metrics`, (body) => /^sadasya_events_total\{.*type="MemberRegistered"\} 1$/m.test(body));
  const workerMetrics = await scrape(workerMetricsUrl, (body) => /^temporal_workflow_completed_total\{/m.test(body)
    && /^temporal_workflow_task_execution_failed_total\{.*workflow_type="workflowTheWorkerDoesNotHave"/m.test(body));
  await broken.terminate('test over');
  // The application's lifecycle (the worker holds the API's master key) fails none.
  expect(workerMetrics).not.toMatch(/^temporal_workflow_task_execution_failed_total\{.*workflow_type="memberLifecycle"/m);
  const served = new Set([...sampleNames(apiMetrics), ...sampleNames(workerMetrics)]);
  const referenced = referencedMetricNames();
  expect(referenced.size).toBeGreaterThan(10);
  expect([...referenced].filter(([name]) => !served.has(name)).map(([name, sources]) => `${name} (${sources.join(', ')})`)).toEqual([]);
}, 240_000);
