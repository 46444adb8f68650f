import path from 'node:path';
import type { Server } from 'node:http';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { config, requireSettings } from '../src/config.ts';
import { createDatabasePool, type DatabasePool } from '../src/db/pool.ts';
import { createLogger } from '../src/logger.ts';
import { LocalDirectoryStorage } from '../src/storage/local-storage.ts';
import { configuredKeyring } from '../src/tenants/keyring.ts';
import { MemberEventHub } from '../src/events/member-event-hub.ts';
import { AfterCommitStarts, runLifecycleStartRelay } from '../src/members/lifecycle-starts.ts';
import { ReadRouting } from '../src/db/read-routing.ts';
import { cachedBusinessMetrics } from '../src/statistics/business-metrics.ts';
import { createApp } from './app.ts';
import { metricsRoutes } from './metrics.ts';
import { createOpsApp } from './ops-app.ts';
import { configuredPayloadCodec, temporalDataConverter } from '../src/temporal/payload-codec.ts';
import { tracingClientInterceptors } from '../src/temporal/tracing-client.ts';
import { stopTracing } from '../src/telemetry/tracing.ts';

/** Production entry point: connects to the servers it is given and serves the API. */
async function main(): Promise<void> {
  const settings = config();
  const log = createLogger('api', settings.LOG_LEVEL);
  requireSettings(settings, 'api');
  if (!settings.DATABASE_URL || !settings.TEMPORAL_ADDRESS || !settings.AUTH_TOKEN_SECRET) throw new Error('unreachable: checked by requireSettings');
  const pool = await createDatabasePool(settings.DATABASE_URL, { maximumPoolSize: settings.DATABASE_POOL_SIZE });
  // Search, statistics and dues figures read from the replica when there is one (docs/database-pooling.md).
  // Opened on the first such read, so the API starts while the replica is down (reads go to the primary meanwhile).
  const readUrl = settings.DATABASE_READ_URL;
  let replica: Promise<DatabasePool> | undefined;
  const reads = new ReadRouting(pool, readUrl ? () => (replica = createDatabasePool(readUrl, { maximumPoolSize: settings.DATABASE_POOL_SIZE })) : undefined, {
    waitMs: settings.DATABASE_READ_WAIT_MS,
    onFallback: (reason, err) => log.warn({ reason, err }, 'read served by the primary: the replica is behind the reader or unreachable'),
  });
  // Connection.lazy: the API starts (and /readyz answers 503) while Temporal is still down.
  // Three attempts, not the client's default ten: a caller gets 503 in seconds, not twenty.
  const connection = Connection.lazy({
    address: settings.TEMPORAL_ADDRESS,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
  });
  // The parties' business figures: one statement per scrape at most every 5 s, from the primary (docs/observability.md).
  const metrics = metricsRoutes({
    business: cachedBusinessMetrics(pool, 5_000),
    onBusinessError: (err) => log.warn({ err }, 'business metrics could not be read: this scrape reports sadasya_business_metrics_up 0'),
  });
  const codec = configuredPayloadCodec(settings);
  // The client's interceptors carry each request's trace into the workflows it starts and updates (docs/observability.md).
  const temporal = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(codec), interceptors: await tracingClientInterceptors(settings) });
  // LISTEN needs a session of its own: behind a pooler in transaction mode, the direct URL.
  const memberEvents = new MemberEventHub(settings.DATABASE_DIRECT_URL ?? settings.DATABASE_URL, log);
  // Registrations are answered once committed; their lifecycles start after the answer (src/members/lifecycle-starts.ts).
  const lifecycleStarts = new AfterCommitStarts({ client: temporal, pool, log });
  const app = createApp({
    pool,
    reads,
    memberEvents,
    temporal,
    lifecycleStarts,
    namespace: settings.TEMPORAL_NAMESPACE,
    metrics,
    log,
    keyring: configuredKeyring(settings, (key) => log.warn({ key }, 'tenant key row tampered with: not trusted')),
    storage: new LocalDirectoryStorage(settings.STORAGE_DIR ?? path.join(settings.DATA_DIR, 'storage')),
    tokenSecret: Buffer.from(settings.AUTH_TOKEN_SECRET, 'base64'),
    platformAdminKey: settings.PLATFORM_ADMIN_KEY,
    publicBaseUrl: settings.PUBLIC_BASE_URL ?? `http://${settings.API_HOST}:${settings.API_PORT}`,
    trustedProxies: settings.TRUSTED_PROXIES,
    registrationRateLimit: settings.RATE_LIMIT_REGISTRATIONS,
    publicRateLimit: settings.RATE_LIMIT_PUBLIC,
    clock: () => new Date(),
  });
  const server: Server = app.listen(settings.API_PORT, settings.API_HOST, () => {
    log.info({ port: settings.API_PORT, host: settings.API_HOST }, 'api listening');
  });
  // /metrics, /readyz's detail and the Temporal codec server: a listener of their own, loopback unless METRICS_HOST says otherwise.
  const ops: Server = createOpsApp({
    pool, temporal, namespace: settings.TEMPORAL_NAMESPACE, metrics, log,
    codec: { codec, platformAdminKey: settings.PLATFORM_ADMIN_KEY, uiOrigin: settings.TEMPORAL_UI_ORIGIN },
  }).listen(settings.METRICS_PORT, settings.METRICS_HOST, () => {
    log.info({ port: settings.METRICS_PORT, host: settings.METRICS_HOST }, 'ops listener (metrics, readiness detail) listening');
  });
  ops.once('error', (err) => {
    // The API itself can serve without its ops listener; say what is missing instead of dying.
    log.error({ err, port: settings.METRICS_PORT, host: settings.METRICS_HOST }, 'ops listener could not start: /metrics and /readyz detail unavailable (set METRICS_PORT)');
  });
  // Registrations whose lifecycle this or another process recorded but did not start (a crash, Temporal unreachable).
  const relay = runLifecycleStartRelay({ client: temporal, pool, log },
    { intervalMs: settings.LIFECYCLE_RELAY_INTERVAL_MS, olderThanMs: settings.LIFECYCLE_RELAY_AFTER_MS });
  const stop = (signal: string) => {
    log.info({ signal }, 'api stopping');
    ops.close();
    server.close(() => {
      void Promise.all([relay.stop(), lifecycleStarts.drain()]).then(() => Promise.allSettled([connection.close(), memberEvents.stop(), pool.end(), replica?.then((p) => p.end()), stopTracing()])).then(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
