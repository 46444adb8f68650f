import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths.ts';
import { TASK_QUEUES } from './temporal/task-queue.ts';

const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = z.string().url().optional();
/** `true` or `false`, as written in an environment file. */
const booleanSetting = z.enum(['true', 'false']).transform((value) => value === 'true');

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default(path.join(projectRoot, '.data')),
  DATABASE_URL: optionalUrl,
  DATABASE_OWNER_URL: optionalUrl,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /**
   * A session-level connection to the same database as DATABASE_URL, for what a pooler in
   * transaction mode cannot carry: LISTEN (live status streams). Unset: DATABASE_URL is direct
   * and serves both (docs/database-pooling.md).
   */
  DATABASE_DIRECT_URL: optionalUrl,
  /**
   * A streaming replica of DATABASE_URL's database, as the application role: search, statistics and
   * dues figures read from it, a user's own recent change is waited for (docs/database-pooling.md).
   */
  DATABASE_READ_URL: optionalUrl,
  /** How long a read waits for the replica to replay the reader's own last change before it asks the primary. */
  DATABASE_READ_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(1_000),
  POSTGRES_PORT: port.default(5433),
  /** The embedded cluster's settings over those sized for the machine (src/dev/postgres-settings.ts), e.g. shared_buffers=512MB,max_wal_size=2GB. */
  POSTGRES_SETTINGS: z.string()
    .regex(/^\s*[a-z_][a-z0-9_.]*\s*=\s*[^,=\s][^,=]*(,\s*[a-z_][a-z0-9_.]*\s*=\s*[^,=\s][^,=]*)*$/, 'name=value pairs separated by commas, e.g. shared_buffers=512MB,max_wal_size=2GB')
    .optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /**
   * The Temporal UI's origin (scheme://host[:port]), the one origin browsers may call the codec
   * endpoint (/codec on the ops listener) from. Unset: no cross-origin calls (the CLI still can).
   */
  TEMPORAL_UI_ORIGIN: z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin: http(s)://host[:port], no path').optional(),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  PG_CLIENT_BIN_DIR: z.string().min(1).optional(),
  DATABASE_ADMIN_URL: optionalUrl,
  SMTP_URL: optionalUrl,
  MAIL_FROM: z.string().min(3).default('Membership <no-reply@membership.local>'),
  MAIL_SMTP_PORT: port.default(1025),
  MAIL_UI_PORT: port.default(1080),
  API_PORT: port.default(3000),
  API_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port.default(9464),
  METRICS_HOST: z.string().default('127.0.0.1'),
  /**
   * The worker's own metrics listener (`/metrics`: Temporal SDK runtime metrics and process
   * metrics, docs/observability.md). Unset: the worker serves no metrics and installs no
   * metrics exporter in the Temporal runtime.
   */
  WORKER_METRICS_PORT: port.optional(),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  /**
   * Where the Temporal SDK core's own Prometheus exporter listens, on loopback only, for the
   * worker's listener to serve beside its process metrics; used only with WORKER_METRICS_PORT.
   */
  WORKER_SDK_METRICS_PORT: port.default(9466),
  /**
   * Traces (docs/observability.md, "Traces"): with either set, the API and the worker export
   * OpenTelemetry spans over OTLP/HTTP (protobuf); unset, no span leaves the process. The exporter
   * reads the other standard variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, ...).
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().regex(/^https?:\/\//, 'an http(s) URL, e.g. http://otel-collector:4318').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().regex(/^https?:\/\//, 'an http(s) URL, e.g. http://otel-collector:4318/v1/traces').optional(),
  /** The service name on every span; default `sadasya-api` or `sadasya-worker` by entry point. */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Development only: where `npm start` runs the eSewa and Khalti simulators the demo party pays through. */
  GATEWAY_SIMULATOR_PORT: port.default(3090),
  MASTER_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes in base64')
    .optional(),
  /** The master key being retired, during a master-key rotation only (docs/operator-cli.md). */
  MASTER_KEY_PREVIOUS: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes in base64')
    .optional(),
  STORAGE_DIR: z.string().optional(),
  AUTH_TOKEN_SECRET: z.string().regex(/^[A-Za-z0-9+/]{43,}=*$/, 'must be at least 32 bytes in base64').optional(),
  PLATFORM_ADMIN_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  PUBLIC_BASE_URL: z.string().url().optional(),
  RATE_LIMIT_REGISTRATIONS: z.coerce.number().int().min(1).max(1_000_000).default(600),
  RATE_LIMIT_PUBLIC: z.coerce.number().int().min(1).max(1_000_000).default(120),
  /**
   * How often each API process starts the lifecycles of recorded applications that no process
   * started (src/members/lifecycle-starts.ts), and how old such a registration must be first.
   */
  /**
   * On SIGTERM the worker stops taking tasks and lets the activities it has started finish for
   * this long before it cancels them (they are then retried by another worker). Keep it under the
   * orchestrator's own grace (compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`).
   */
  /**
   * Worker versioning (src/temporal/worker-deployment.ts): a worker given a build id belongs to
   * the version `<WORKER_DEPLOYMENT_NAME>:<WORKER_BUILD_ID>` and takes tasks once that version is
   * current (`npm run cli -- workers:promote --build-id <id>`, or WORKER_PROMOTE_ON_START). Without
   * a build id the worker is unversioned, as before.
   */
  WORKER_DEPLOYMENT_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, "_" or "-"').default('sadasya'),
  WORKER_BUILD_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-"').optional(),
  /** A single-worker deployment (development, one compose host) makes its own build current when it starts. */
  WORKER_PROMOTE_ON_START: booleanSetting.default(false),
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /**
   * Workflows the worker keeps in memory between their tasks (its sticky cache). A cached lifecycle
   * answers its next task without replaying its history; an evicted one replays it. The SDK's own
   * default grows with the heap limit (about 2,300 on a machine with 24 GiB) and a cached lifecycle
   * costs the worker about 0.75–1 MB: sized here for a worker that stays under 1 GiB with
   * 10,000 lifecycles open (bench/results/2026-12-05.md: 1,562 MiB at its peak with 500 and
   * Node's defaults; bench/results/2026-12-05-memory-worker-300.md: 1,011 MiB with 300 and
   * compose's 16 MiB young generation, WORKER_NODE_OPTIONS).
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(300),
  /**
   * The task queues this worker process serves, comma-separated: `membership` (every workflow and
   * its database steps) and `membership-cards` (ID card rendering and email, CPU-heavy). Default
   * both, so one process runs everything; a deployment that keeps card rendering off the
   * workflow tasks' event loop runs one process with each (docs/docker-compose.md).
   */
  WORKER_TASK_QUEUES: z.string().default(TASK_QUEUES.join(','))
    .transform((value) => [...new Set(value.split(',').map((queue) => queue.trim()).filter((queue) => queue !== ''))])
    .refine((queues) => queues.length > 0 && queues.every((queue) => (TASK_QUEUES as readonly string[]).includes(queue)), `one or more of ${TASK_QUEUES.join(', ')}, comma-separated`)
    .pipe(z.array(z.enum(TASK_QUEUES))),
  LIFECYCLE_RELAY_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  LIFECYCLE_RELAY_AFTER_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  CHAIN_ANCHOR_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(60),
  /** When the daily renewal run starts, HH:MM in Asia/Kathmandu. */
  RENEWAL_RUN_AT: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour, Asia/Kathmandu').default('00:30')
    .transform((at) => ({ hour: Number(at.slice(0, 2)), minute: Number(at.slice(3, 5)) })),
  /** When the daily payment reconciliation starts (it compares the parties' previous day), HH:MM in Asia/Kathmandu. */
  PAYMENT_RECONCILIATION_AT: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour, Asia/Kathmandu').default('01:30')
    .transform((at) => ({ hour: Number(at.slice(0, 2)), minute: Number(at.slice(3, 5)) })),
  TRUSTED_PROXIES: z.string().regex(/^(?:none|[\w.:/]+(?:\s*,\s*[\w.:/]+)*)$/, 'none, or comma-separated loopback, linklocal, uniquelocal, addresses and CIDRs').default('loopback'),
});

export type Config = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the environment once. Nothing else in the product reads process.env.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = issue?.path.join('.') ?? 'environment';
  throw new ConfigError(`Invalid environment variable ${variable}: ${issue?.message ?? 'invalid'}`);
}

/** The production entry points: `npm run api`, `npm run worker`, `npm run migrate`. */
export type EntryPoint = 'api' | 'worker' | 'migrate';

/**
 * What each entry point refuses to start without, the one list of it (docker-compose.yml is
 * checked against it): `always`, and with NODE_ENV=production also `production` (the master
 * key has no development fallback there, and links in mail and cards need the public URL).
 */
export const REQUIRED_SETTINGS: Record<EntryPoint, { always: readonly (keyof Config)[]; production: readonly (keyof Config)[] }> = {
  api: { always: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'AUTH_TOKEN_SECRET'], production: ['MASTER_KEY', 'PUBLIC_BASE_URL'] },
  worker: { always: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'SMTP_URL'], production: ['MASTER_KEY', 'PUBLIC_BASE_URL'] },
  migrate: { always: ['DATABASE_OWNER_URL'], production: [] },
};

export function requiredSettings(entryPoint: EntryPoint, nodeEnv: Config['NODE_ENV']): (keyof Config)[] {
  const { always, production } = REQUIRED_SETTINGS[entryPoint];
  return nodeEnv === 'production' ? [...always, ...production] : [...always];
}

/** @throws ConfigError naming every variable the entry point needs and was not given. */
export function requireSettings(settings: Config, entryPoint: EntryPoint): void {
  const missing = requiredSettings(entryPoint, settings.NODE_ENV).filter((name) => settings[name] === undefined);
  if (missing.length) throw new ConfigError(`npm run ${entryPoint} needs ${missing.join(', ')} (npm start sets them for development; docs/docker-compose.md)`);
}

let cached: Config | undefined;

export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** The environment for a child process this one starts: its own plus `overrides`. */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}

/** Where `npm start` looks for a cached Temporal CLI and a `temporal` binary on PATH. */
export function toolSearchPaths(): { searchPath: string | undefined; cacheHome: string | undefined } {
  return { searchPath: process.env.PATH, cacheHome: process.env.XDG_CACHE_HOME };
}
