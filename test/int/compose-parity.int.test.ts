import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'slonik';
import { z } from 'zod';
import { findPgClientTools } from '../../src/backup/pg-client-tools.ts';
import { loadConfig, toolSearchPaths } from '../../src/config.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { ensureDemoParty, type DemoRecord } from '../../src/dev/demo-party.ts';
import { PostgresServer } from '../../src/dev/postgres-server.ts';
import { projectRoot } from '../../src/paths.ts';
import { findTemporalCli } from '../../src/temporal/cli-binary.ts';
import { findTemporalServer, TEMPORAL_SERVER_VERSION, type TemporalServerTools } from '../../src/temporal/server-binary.ts';
import { memberWorkflowId } from '../../src/members/lifecycle-contract.ts';
import { configuredKeyring } from '../../src/tenants/keyring.ts';
import { generatedDotEnv, resolvedCompose, serviceEnvironment, type ComposeProject } from '../support/compose-file.ts';
import { configContent, configTarget, freeMembershipPort, shellScript, tcpOpen, TEMPORAL_SERVER_PORT_VARIABLES } from '../support/compose-temporal.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { freePort } from '../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';

// Compose parity without Docker (docs/docker-compose.md, "How this file is tested"): the
// production entry points run the way docker-compose.yml runs them, each with exactly the
// environment the file gives its service; only host names and ports are pointed at this test.
// Temporal too: the release the images hold (temporal-server, temporal-sql-tool and the schema
// files, built from the Go module), its schema and setup steps run from the file's scripts, the
// server on the Postgres the init script prepared for it.

/** A service's process; oneShot when the file gives it `restart: "no"` (it is meant to exit). */
interface Run { name: string; child: ChildProcess; output: () => string; oneShot: boolean; closed: () => boolean }

const runs: Run[] = [];
/** Services this test stopped on purpose (the Temporal server before its restart). */
const stopped = new Set<Run>();
let tmp: string;
let postgres: PostgresServer | undefined;
let smtp: SmtpCapture | undefined;
let project: ComposeProject;
let dotEnv: Record<string, string>;
let apiPort: number;
let pgPort: number;
let temporalTools: TemporalServerTools;
let temporalCliDir: string;

/** What the image's PATH gives a container: node 24 (this one) first. */
const PATH = `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`;

/** The service's environment, with compose's host names and the container's ports and paths pointed at this test's. */
function environmentOf(service: string, rewrite: Record<string, string>): Record<string, string> {
  const environment = serviceEnvironment(project, service);
  for (const [key, value] of Object.entries(environment)) {
    let rewritten = value;
    for (const [from, to] of Object.entries(rewrite)) rewritten = rewritten.replaceAll(from, to);
    environment[key] = rewritten;
  }
  return environment;
}

function npmRun(service: string, environment: Record<string, string>): Run {
  const command = project.services[service]!.command as string[];
  expect(command.slice(0, 2)).toEqual(['npm', 'run']);
  return startProcess(service, command, { PATH, HOME: tmp, ...environment });
}

function startProcess(service: string, command: string[], environment: Record<string, string>, cwd = projectRoot): Run {
  // detached: the process and its children form one process group, stopped together (as a container is).
  const child = spawn(command[0]!, command.slice(1), { cwd, env: environment, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  let closed = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.once('close', () => (closed = true));
  const oneShot = (project.services[service] as { restart?: string }).restart === 'no';
  const run = { name: service, child, output: () => output, oneShot, closed: () => closed };
  runs.push(run);
  return run;
}

function exitOf(run: Run): Promise<number | null> {
  if (run.child.exitCode !== null) return Promise.resolve(run.child.exitCode);
  return new Promise((resolve) => run.child.once('exit', (code) => resolve(code)));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const run of runs) if (!run.oneShot && run.child.exitCode !== null && !stopped.has(run)) throw new Error(`${run.name} exited while waiting for ${what}:\n${run.output()}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${runs.map((run) => `--- ${run.name}\n${run.output()}`).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

type Json = { data?: { id: string; attributes: Record<string, unknown> } };

async function call(method: string, urlPath: string, options: { body?: unknown; token?: string } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { accept: 'application/vnd.api+json' };
  if (options.body !== undefined) headers['content-type'] = 'application/vnd.api+json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`http://127.0.0.1:${apiPort}${urlPath}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Json) : {} };
}

async function login(demo: DemoRecord, email: string): Promise<string> {
  const account = demo.logins.find((entry) => entry.email === email)!;
  const res = await call('POST', '/api/auth/login', { body: { data: { type: 'sessions', attributes: { tenant: demo.slug, email, password: account.password } } } });
  expect(res.status).toBe(201);
  return String(res.body.data!.attributes.token);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sadasya-test-compose-'));
  await chmod(tmp, 0o755);
  dotEnv = generatedDotEnv((bytes, encoding) => randomBytes(bytes).toString(encoding));
  project = resolvedCompose(dotEnv);
  smtp = await startSmtpCapture();
  pgPort = await freePort();
  apiPort = await freePort();
  // Built once with Go into the cache outside the clone (.ci/run does it before the tests).
  temporalTools = findTemporalServer({ cacheHome: toolSearchPaths().cacheHome, log: (line) => process.stdout.write(`${line}\n`) });
  const cli = findTemporalCli({ explicitPath: loadConfig().TEMPORAL_CLI_PATH, ...toolSearchPaths() });
  if (cli.type !== 'existing-path') throw new Error('the temporal-setup service needs the Temporal CLI binary (npm run temporal:install)');
  temporalCliDir = path.dirname(cli.path);
}, 20 * 60_000);

/** Stops a service as `docker compose down` does: SIGTERM to all its processes, SIGKILL after a grace period; resolves when its output is closed. */
async function stopService(run: Run, graceMs = 15_000): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    if (run.closed()) resolve();
    else run.child.once('close', () => resolve());
  });
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-run.child.pid!, name);
    } catch {
      // the group is already gone
    }
  };
  signal('SIGTERM');
  const kill = setTimeout(() => signal('SIGKILL'), graceMs);
  await closed;
  clearTimeout(kill);
}

afterAll(async () => {
  await Promise.all(runs.map((run) => stopService(run)));
  await Promise.allSettled([smtp?.stop(), postgres?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

/** An admin-tools service (temporal-schema, temporal-setup): its `/bin/sh -ec` script from the file, run to completion with the PATH the image gives it. */
async function runAdminTools(service: string, script: string, environment: Record<string, string>): Promise<{ exit: number | null; output: string }> {
  const run = startProcess(service, ['/bin/sh', '-ec', script], { PATH: `${path.dirname(temporalTools.sqlTool)}:${temporalCliDir}:${PATH}`, HOME: tmp, ...environment }, tmp);
  // Waiting through `until`: if the server a script talks to dies meanwhile, that is the failure reported.
  await until(`${service} to finish`, () => Promise.resolve(run.closed() ? true : undefined), 180_000);
  return { exit: run.child.exitCode, output: run.output() };
}

/** The newest schema version the files hold (the highest vX.Y directory under versioned/). */
function newestSchemaVersion(versionedDir: string): string {
  const versions = readdirSync(versionedDir).map((name) => name.replace(/^v/, '').split('.').map(Number) as [number, number]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return versions.at(-1)!.join('.');
}

/** Applies, approves, invoices, pays: one membership from application to card, through the API as its users do. */
async function membershipToCard(demo: DemoRecord, email: string, names: { en: string; ne: string }, phone: string): Promise<string> {
  const applied = await call('POST', `/api/parties/${demo.slug}/applications`, {
    body: { data: { type: 'applications', attributes: { fullNameEn: names.en, fullNameNe: names.ne, gender: 'F', phone, email, wardId: demo.wards[0]!.id, ...ELIGIBLE } } },
  });
  expect(applied.status).toBe(201);
  const memberId = applied.body.data!.id;
  const head = await login(demo, 'head.ward@demo.sadasya.local');
  expect((await call('POST', `/api/members/${memberId}/approve`, { token: head, body: { data: { type: 'approvals', attributes: { note: 'welcome' } } } })).status).toBe(200);
  const [invoiceMail] = await smtp!.waitFor((mail) => /^Membership fee invoice /.test(mail.subject ?? '') && JSON.stringify(mail.to).includes(email), 1, 60_000);
  const invoiceId = /invoice ([0-9a-f-]{36})/.exec(invoiceMail!.subject ?? '')![1]!;
  const treasurer = await login(demo, 'treasurer@demo.sadasya.local');
  const paid = await call('POST', `/api/members/${memberId}/payments`, { token: treasurer, body: { data: { type: 'payments', attributes: {
    invoiceId, amount: 10_000, currency: 'NPR', reference: `RCPT-${memberId.slice(0, 8)}`, paidAt: new Date().toISOString() } } } });
  expect(paid.status).toBe(201);
  const admin = await login(demo, 'admin@demo.sadasya.local');
  await until('the card', async () => ((await call('GET', `/api/members/${memberId}/card`, { token: admin })).status === 200 ? true : undefined));
  expect((await call('GET', `/api/members/${memberId}`, { token: admin })).body.data!.attributes).toMatchObject({ status: 'active', memberNumber: expect.any(String) });
  return memberId;
}

test('postgres initialised by the init script, temporal on it (schema, server, setup), then migrate, worker and api with the environment docker-compose.yml gives them, carry a membership from application to card, and another after temporal restarts', async () => {
  const started = performance.now();
  // postgres: an empty cluster whose superuser password is the service's POSTGRES_PASSWORD,
  // initialised as the image does: the mounted init script, run with the service's environment.
  const postgresEnv = serviceEnvironment(project, 'postgres');
  postgres = new PostgresServer({ dataDir: path.join(tmp, 'postgres'), port: pgPort, superuserPassword: postgresEnv.POSTGRES_PASSWORD! });
  await postgres.start();
  // psql from the client tools the product finds for pg_dump (PG_CLIENT_BIN_DIR, the PATH, or the cached PostgreSQL 18 ones).
  const clientBin = path.dirname((await findPgClientTools({ explicitDir: loadConfig().PG_CLIENT_BIN_DIR, ...toolSearchPaths() })).pgDump);
  const init = spawnSync('sh', [path.join(projectRoot, 'docker', 'postgres-init', '01-roles.sh')], {
    encoding: 'utf8',
    env: { PATH: `${clientBin}:${PATH}`, ...postgresEnv, POSTGRES_USER: 'postgres', POSTGRES_DB: 'postgres', PGHOST: '127.0.0.1', PGPORT: String(pgPort), PGPASSWORD: postgresEnv.POSTGRES_PASSWORD!, SADASYA_INIT_DIR: path.join(projectRoot, 'docker', 'postgres-init') },
  });
  expect({ status: init.status, stderr: init.stderr }).toEqual({ status: 0, stderr: '' });

  // The images the file runs are the release this test built (temporal-server, temporal-sql-tool, the schema files).
  for (const service of ['temporal-schema', 'temporal', 'temporal-setup']) {
    expect(project.services[service]!.image).toMatch(new RegExp(`^temporalio/(server|admin-tools):${TEMPORAL_SERVER_VERSION.replace(/^v/, '').replaceAll('.', '\\.')}$`));
  }
  // temporal-schema: the file's script with the service's environment, twice (it says it is
  // idempotent); the image's /etc/temporal/schema is the module's schema directory.
  const temporalStarted = performance.now();
  const onThisPostgres = (environment: Record<string, string>): Record<string, string> => {
    expect({ seeds: environment.POSTGRES_SEEDS, port: environment.DB_PORT }).toEqual({ seeds: 'postgres', port: '5432' });
    return { ...environment, POSTGRES_SEEDS: '127.0.0.1', DB_PORT: String(pgPort) };
  };
  const schemaScript = shellScript(project, 'temporal-schema').replaceAll('/etc/temporal/schema/', `${temporalTools.schemaDir}/`);
  // The temporal role (what the schema tool and the server connect as) in one of its databases.
  const asTemporal = (database: string) => createDatabasePool(`postgres://temporal:${dotEnv.TEMPORAL_DB_PASSWORD}@127.0.0.1:${pgPort}/${database}`, { maximumPoolSize: 1 });
  const temporalOwner = await asTemporal('temporal');
  const visibilityOwner = await asTemporal('temporal_visibility');
  try {
    // Each database's recorded version and how many schema changes it records having applied.
    const state = async (pool: typeof temporalOwner) => ({
      version: await pool.oneFirst(sql.type(z.object({ curr_version: z.string() }))`SELECT curr_version FROM schema_version`),
      updates: await pool.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM schema_update_history`),
    });
    const rounds: Array<{ temporal: { version: string; updates: number }; visibility: { version: string; updates: number } }> = [];
    for (const round of ['first', 'second']) {
      const schema = await runAdminTools('temporal-schema', schemaScript, onThisPostgres(serviceEnvironment(project, 'temporal-schema')));
      expect({ round, ...schema }).toEqual({ round, exit: 0, output: expect.any(String) });
      rounds.push({ temporal: await state(temporalOwner), visibility: await state(visibilityOwner) });
    }
    // The first run brings both databases to the newest version the files hold; the second changes nothing.
    expect(rounds[0]).toMatchObject({
      temporal: { version: newestSchemaVersion(path.join(temporalTools.schemaDir, 'postgresql', 'v12', 'temporal', 'versioned')) },
      visibility: { version: newestSchemaVersion(path.join(temporalTools.schemaDir, 'postgresql', 'v12', 'visibility', 'versioned')) },
    });
    expect(rounds[1]).toEqual(rounds[0]);
  } finally {
    await Promise.all([temporalOwner.end(), visibilityOwner.end()]);
  }
  const schemaMs = performance.now() - temporalStarted;

  // temporal: the server binary the image runs (`temporal-server start`: the config template built
  // into it, rendered from the service's environment), its dynamic config the file's inline one.
  const temporalPorts: Record<string, string> = {};
  const taken = new Set<number>();
  for (const name of TEMPORAL_SERVER_PORT_VARIABLES) {
    const port = await freeMembershipPort(taken);
    taken.add(port);
    temporalPorts[name] = String(port);
  }
  const frontendPort = Number(temporalPorts.FRONTEND_GRPC_PORT);
  const dynamicConfig = path.join(tmp, 'temporal', 'dynamicconfig', 'sadasya.yaml');
  await mkdir(path.dirname(dynamicConfig), { recursive: true });
  await writeFile(dynamicConfig, configContent(project, 'temporal-dynamic-config'));
  const temporalEnv = onThisPostgres(environmentOf('temporal', { [configTarget(project, 'temporal', 'temporal-dynamic-config')]: dynamicConfig }));
  expect(temporalEnv.DYNAMIC_CONFIG_FILE_PATH).toBe(dynamicConfig);
  // Its metrics listener, when the file gives it one, on a port of this test's too.
  if (temporalEnv.PROMETHEUS_ENDPOINT) temporalEnv.PROMETHEUS_ENDPOINT = `127.0.0.1:${await freePort()}`;
  const startTemporal = (): Run => startProcess('temporal', [temporalTools.server, 'start'], {
    PATH, HOME: tmp, ...temporalEnv, ...temporalPorts,
    // What the image's entrypoint adds when BIND_ON_IP is 0.0.0.0: the container's own address to broadcast (here, loopback).
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
  }, path.join(tmp, 'temporal'));
  let temporal = startTemporal();
  // Its health check (`nc -z 127.0.0.1 7233`), as a TCP probe of this test's frontend port.
  expect(project.services.temporal!.healthcheck!.test).toEqual(['CMD', 'nc', '-z', '127.0.0.1', '7233']);
  await until('the temporal service healthy', async () => ((await tcpOpen(frontendPort)) ? true : undefined));
  const serverMs = performance.now() - temporalStarted - schemaMs;

  // temporal-setup: the file's script (namespace, search attributes, then a query on all of them) with its environment.
  const setup = await runAdminTools('temporal-setup', shellScript(project, 'temporal-setup'), environmentOf('temporal-setup', { 'temporal:7233': `127.0.0.1:${frontendPort}` }));
  expect(setup).toEqual({ exit: 0, output: expect.stringContaining(`namespace ${serviceEnvironment(project, 'temporal-setup').TEMPORAL_NAMESPACE!} and its search attributes are ready`) });
  const temporalMs = performance.now() - temporalStarted;

  const metricsPort = await freePort();
  const rewrite = {
    '@postgres:5432/': `@127.0.0.1:${pgPort}/`,
    'temporal:7233': `127.0.0.1:${frontendPort}`,
    'smtp://mail:1025': smtp!.url,
    '/var/lib/sadasya/': `${tmp}/`,
    // PUBLIC_BASE_URL's default is the published API port; here the API listens on a free one.
    'http://127.0.0.1:3000': `http://127.0.0.1:${apiPort}`,
  };
  // Each worker process its own metrics ports (in compose each is its own host: worker:9465, card-worker:9465).
  const workerPorts = async () => ({ WORKER_METRICS_PORT: String(await freePort()), WORKER_SDK_METRICS_PORT: String(await freePort()) });
  const metricsPorts = { worker: await workerPorts(), 'card-worker': await workerPorts() };
  const withPorts = (environment: Record<string, string>, service?: keyof typeof metricsPorts): Record<string, string> => ({
    ...environment, API_PORT: String(apiPort), METRICS_PORT: String(metricsPort), ...(service && environment.WORKER_METRICS_PORT ? metricsPorts[service] : {}),
  });

  // migrate: once, to completion, before worker and api (service_completed_successfully).
  const migrateEnv = environmentOf('migrate', rewrite);
  const migrate = npmRun('migrate', withPorts(migrateEnv));
  expect({ exit: await exitOf(migrate), output: migrate.output() }).toEqual({ exit: 0, output: expect.stringMatching(/geography: imported Nepal's \d+ divisions/) });

  // The search operators are leakproof in the database the init script made.
  const owner = await createDatabasePool(migrateEnv.DATABASE_OWNER_URL!, { maximumPoolSize: 1 });
  try {
    const rows = await owner.any(sql.type(z.object({ proname: z.string(), proleakproof: z.boolean() }))`SELECT proname, proleakproof FROM pg_proc WHERE proname IN ('enum_eq', 'texticlike') ORDER BY proname`);
    expect(rows).toEqual([{ proname: 'enum_eq', proleakproof: true }, { proname: 'texticlike', proleakproof: true }]);
  } finally {
    await owner.end();
  }

  npmRun('worker', withPorts(environmentOf('worker', rewrite), 'worker'));
  // The card and mail queue's own worker process (the same entry point, WORKER_TASK_QUEUES from the file).
  npmRun('card-worker', withPorts(environmentOf('card-worker', rewrite), 'card-worker'));
  const apiEnv = withPorts(environmentOf('api', rewrite));
  npmRun('api', apiEnv);
  await until('/readyz ready', async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
    return res.ok ? ((await res.json()) as { status: string }) : undefined;
  }).then((body) => expect(body).toMatchObject({ status: 'ready' }));
  // Each worker's metrics listener, as prometheus scrapes it at worker:9465 and card-worker:9465: process and Temporal SDK metrics, its own queue polled.
  for (const [service, queue] of [['worker', 'membership'], ['card-worker', 'membership-cards']] as const) {
    await until(`${service} serving its metrics`, async () => {
      const body = await (await fetch(`http://127.0.0.1:${metricsPorts[service].WORKER_METRICS_PORT}/metrics`)).text();
      return /^sadasya_worker_sdk_metrics_up 1$/m.test(body) && new RegExp(`^temporal_num_pollers\\{.*task_queue="${queue}"`, 'm').test(body) ? true : undefined;
    });
  }

  // A party as an operator makes one (the demo party: an admin, a treasurer, ward heads), with the app's role and master key.
  const app = await createDatabasePool(apiEnv.DATABASE_URL!, { maximumPoolSize: 1 });
  let demo: DemoRecord;
  try {
    const outcome = await ensureDemoParty(app, configuredKeyring({ MASTER_KEY: apiEnv.MASTER_KEY, NODE_ENV: 'production', DATA_DIR: tmp }), tmp, true);
    if (outcome.state !== 'created') throw new Error(`demo party not created: ${outcome.state}`);
    demo = outcome.demo;
  } finally {
    await app.end();
  }

  const memberId = await membershipToCard(demo, `compose${Date.now()}@example.np`, { en: 'Asha Shrestha', ne: 'आशा श्रेष्ठ' }, '9841000001');

  // Its lifecycle's history is in Postgres: the executions table of the temporal database, read as the temporal role.
  const workflowId = memberWorkflowId(demo.tenantId, memberId);
  const temporalDb = await asTemporal('temporal');
  try {
    expect(await temporalDb.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM executions WHERE workflow_id = ${workflowId}`)).toBe(1);
  } finally {
    await temporalDb.end();
  }
  const eventsOf = async (): Promise<string[]> => {
    const connection = await Connection.connect({ address: `127.0.0.1:${frontendPort}` });
    try {
      const history = await new Client({ connection, namespace: apiEnv.TEMPORAL_NAMESPACE! }).workflow.getHandle(workflowId).fetchHistory();
      return (history.events ?? []).map((event) => `${String(event.eventId)}:${String(event.eventType)}`);
    } finally {
      await connection.close();
    }
  };
  const before = await eventsOf();
  expect(before.length).toBeGreaterThan(10);

  // The server restarts (as `docker compose restart temporal` does): the history is still there,
  // the worker and the api reconnect by themselves, and a second membership goes through.
  const restartStarted = performance.now();
  stopped.add(temporal);
  await stopService(temporal);
  temporal = startTemporal();
  await until('the restarted temporal service healthy', async () => ((await tcpOpen(frontendPort)) ? true : undefined));
  const after = await until('the history after the restart', eventsOf);
  expect(after.slice(0, before.length)).toEqual(before);
  const restartMs = performance.now() - restartStarted;
  await until('/readyz ready after the restart', async () => ((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok ? true : undefined));
  await membershipToCard(demo, `compose${Date.now()}b@example.np`, { en: 'Bina Gurung', ne: 'बिना गुरुङ' }, '9841000002');

  // The api service's health check, as compose runs it inside the container (its port is this test's).
  const check = project.services.api!.healthcheck!.test as string[];
  expect(check[0]).toBe('CMD');
  const health = spawnSync(process.execPath, check.slice(2).map((arg) => arg.replaceAll('127.0.0.1:3000', `127.0.0.1:${apiPort}`)), { encoding: 'utf8', timeout: 10_000 });
  expect(health.status).toBe(0);
  // ...and it fails when the answer is not a 2xx (a 404 is not health).
  const notFound = spawnSync(process.execPath, check.slice(2).map((arg) => arg.replaceAll('127.0.0.1:3000/readyz', `127.0.0.1:${apiPort}/no-such-page`)), { encoding: 'utf8', timeout: 10_000 });
  expect(notFound.status).toBe(1);
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  process.stdout.write(`compose-parity: init, temporal (schema twice ${seconds(schemaMs)}, server start ${seconds(serverMs)}, setup ${seconds(temporalMs - schemaMs - serverMs)}), migrate (with geography), worker, api, ` +
    `a membership to its card, a temporal restart (${seconds(restartMs)} to the history again) and a second membership in ${seconds(performance.now() - started)}\n`);
}, 420_000);
