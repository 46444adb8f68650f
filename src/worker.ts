import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { config, requireSettings } from './config.ts';
import { createDatabasePool } from './db/pool.ts';
import { createLogger } from './logger.ts';
import { createSmtpMailer, senderDomain } from './mail/mailer.ts';
import { LocalDirectoryStorage } from './storage/local-storage.ts';
import { createWorkers, runWorkers } from './temporal/membership-worker.ts';
import { MEMBERSHIP_TASK_QUEUE } from './temporal/task-queue.ts';
import { prebuiltWorkflowBundle, type PrebuiltBundle } from './temporal/workflow-bundle.ts';
import { setCurrentBuild, workerDeploymentOptions } from './temporal/worker-deployment.ts';
import { configuredPayloadCodec, temporalDataConverter } from './temporal/payload-codec.ts';
import { ensureChainAnchoringSchedule, ensurePaymentReconciliationSchedule, ensureRenewalSchedule } from './temporal/schedules.ts';
import { configuredKeyring } from './tenants/keyring.ts';
import { tracingClientInterceptors } from './temporal/tracing-client.ts';
import { stopTracing } from './telemetry/tracing.ts';
import { installTemporalRuntimeMetrics, startWorkerMetricsListener } from './temporal/worker-metrics.ts';

/** Production entry point: connects to the servers it is given and runs a worker for each task queue WORKER_TASK_QUEUES names (all by default). */
async function main(): Promise<void> {
  const settings = config();
  const log = createLogger('worker', settings.LOG_LEVEL);
  requireSettings(settings, 'worker');
  if (!settings.DATABASE_URL || !settings.TEMPORAL_ADDRESS || !settings.SMTP_URL) throw new Error('unreachable: checked by requireSettings');
  // Before any connection: the Temporal runtime is made once per process (src/temporal/worker-metrics.ts).
  if (settings.WORKER_METRICS_PORT !== undefined) installTemporalRuntimeMetrics(settings.WORKER_SDK_METRICS_PORT);
  const pool = await createDatabasePool(settings.DATABASE_URL, { maximumPoolSize: settings.DATABASE_POOL_SIZE });
  const mailer = createSmtpMailer({ smtpUrl: settings.SMTP_URL, from: settings.MAIL_FROM });
  // Every payload the worker and its client hand Temporal is encrypted, and failures' messages with them.
  const codec = configuredPayloadCodec(settings);
  const connection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
  const client = new Client({ connection: await Connection.connect({ address: settings.TEMPORAL_ADDRESS }), namespace: settings.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(codec), interceptors: await tracingClientInterceptors(settings) });
  const queues = settings.WORKER_TASK_QUEUES;
  // Only the membership queue's worker runs workflows.
  const bundle: PrebuiltBundle = queues.includes(MEMBERSHIP_TASK_QUEUE) ? prebuiltWorkflowBundle() : { path: undefined };
  if (bundle.stale) log.warn({ reason: bundle.stale }, 'the pre-built workflow bundle is older than its sources: bundling the workflows now (npm run build:workflows makes a new one)');
  const workers = await createWorkers(queues, {
    workflowBundlePath: bundle.path,
    temporal: client,
    connection,
    namespace: settings.TEMPORAL_NAMESPACE,
    shutdownGraceTimeMs: settings.WORKER_SHUTDOWN_GRACE_MS,
    maxCachedWorkflows: settings.WORKER_MAX_CACHED_WORKFLOWS,
    deployment: workerDeploymentOptions(settings.WORKER_DEPLOYMENT_NAME, settings.WORKER_BUILD_ID),
    dataConverter: temporalDataConverter(codec, { failures: true }),
    deps: {
      pool,
      keyring: configuredKeyring(settings, (key) => log.warn({ key }, 'tenant key row tampered with: not trusted')),
      mailer,
      storage: new LocalDirectoryStorage(settings.STORAGE_DIR ?? path.join(settings.DATA_DIR, 'storage')),
      clock: () => new Date(),
      log,
      mailDomain: senderDomain(settings.MAIL_FROM),
      publicBaseUrl: settings.PUBLIC_BASE_URL ?? `http://${settings.API_HOST}:${settings.API_PORT}`,
    },
  });
  const metrics = settings.WORKER_METRICS_PORT === undefined ? undefined : await startWorkerMetricsListener({
    host: settings.WORKER_METRICS_HOST,
    port: settings.WORKER_METRICS_PORT,
    sdkMetricsUrl: `http://127.0.0.1:${settings.WORKER_SDK_METRICS_PORT}/metrics`,
    log,
  });
  if (metrics) log.info({ host: settings.WORKER_METRICS_HOST, port: settings.WORKER_METRICS_PORT }, 'worker metrics listening');
  const running = runWorkers(workers);
  if (settings.WORKER_BUILD_ID !== undefined) {
    const version = { deployment: settings.WORKER_DEPLOYMENT_NAME, buildId: settings.WORKER_BUILD_ID };
    // Only a process that polls workflow tasks makes its build current (a card worker alone would make a version current that no workflow poller serves).
    if (settings.WORKER_PROMOTE_ON_START && queues.includes(MEMBERSHIP_TASK_QUEUE)) {
      await setCurrentBuild(client, version.deployment, version.buildId, { identity: `worker:${version.buildId}` });
      log.info(version, 'worker build made current');
    } else if (!queues.includes(MEMBERSHIP_TASK_QUEUE)) {
      log.info(version, 'versioned card worker: it takes the activities of workflows on its build; the membership worker of the same build makes it current');
    } else {
      log.warn(version, `versioned worker: it takes tasks once its build is current (npm run cli -- workers:promote --build-id ${version.buildId})`);
    }
  }
  // The schedules start workflows: the process that serves them (the membership queue) keeps them as configured.
  if (queues.includes(MEMBERSHIP_TASK_QUEUE)) {
    await ensureChainAnchoringSchedule(client, settings.CHAIN_ANCHOR_INTERVAL_MINUTES);
    await ensureRenewalSchedule(client, settings.RENEWAL_RUN_AT);
    await ensurePaymentReconciliationSchedule(client, settings.PAYMENT_RECONCILIATION_AT);
  }
  log.info({ taskQueues: queues, identity: workers[0]?.options.identity, chainAnchoringEveryMinutes: settings.CHAIN_ANCHOR_INTERVAL_MINUTES, renewalRunAt: settings.RENEWAL_RUN_AT, paymentReconciliationAt: settings.PAYMENT_RECONCILIATION_AT }, 'worker started');
  // SIGTERM (a deploy, `docker compose stop`): Worker.run's own signal handling stops polling, lets
  // the tasks in hand finish (WORKER_SHUTDOWN_GRACE_MS for activities) and returns.
  process.once('SIGTERM', () => log.info({ graceMs: settings.WORKER_SHUTDOWN_GRACE_MS }, 'worker draining'));
  try {
    await running;
  } finally {
    metrics?.close();
    mailer.close();
    await client.connection.close();
    await connection.close();
    await pool.end();
    await stopTracing();
    log.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
