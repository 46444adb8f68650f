import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { findPgClientTools } from '../../src/backup/pg-client-tools.ts';
import { loadConfig, toolSearchPaths } from '../../src/config.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { ensureDemoParty, type DemoRecord } from '../../src/dev/demo-party.ts';
import { PostgresServer } from '../../src/dev/postgres-server.ts';
import { projectRoot } from '../../src/paths.ts';
import { configuredKeyring } from '../../src/tenants/keyring.ts';
import { generatedDotEnv, resolvedCompose, serviceEnvironment, type ComposeProject } from '../support/compose-file.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { freePort } from '../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';

// Compose parity without Docker (docs/docker-compose.md, "How this file is tested"): the
// production entry points run the way docker-compose.yml runs them, each with exactly the
// environment the file gives its service; only host names and ports are pointed at this test.

interface Run { name: string; child: ChildProcess; output: () => string }

const runs: Run[] = [];
let tmp: string;
let postgres: PostgresServer | undefined;
let smtp: SmtpCapture | undefined;
let project: ComposeProject;
let dotEnv: Record<string, string>;
let apiPort: number;
let pgPort: number;

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
  // detached: npm and the node process it starts form one process group, stopped together (as a container is).
  const child = spawn(command[0]!, command.slice(1), { cwd: projectRoot, env: { PATH, HOME: tmp, ...environment }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const run = { name: service, child, output: () => output };
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
    for (const run of runs) if (run.name !== 'migrate' && run.child.exitCode !== null) throw new Error(`${run.name} exited while waiting for ${what}:\n${run.output()}`);
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
});

/** Stops a service as `docker compose down` does: SIGTERM to all its processes, SIGKILL after a grace period; resolves when its output is closed. */
async function stopService(run: Run, graceMs = 15_000): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    if (run.child.stdout?.closed && run.child.stderr?.closed && run.child.exitCode !== null) resolve();
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

test('postgres initialised by the init script, then migrate, worker and api with the environment docker-compose.yml gives them, carry a membership from application to card', async () => {
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

  const metricsPort = await freePort();
  const rewrite = {
    '@postgres:5432/': `@127.0.0.1:${pgPort}/`,
    'temporal:7233': process.env.TEST_TEMPORAL_ADDRESS!,
    'smtp://mail:1025': smtp!.url,
    '/var/lib/sadasya/': `${tmp}/`,
    // PUBLIC_BASE_URL's default is the published API port; here the API listens on a free one.
    'http://127.0.0.1:3000': `http://127.0.0.1:${apiPort}`,
  };
  const workerPorts = { WORKER_METRICS_PORT: String(await freePort()), WORKER_SDK_METRICS_PORT: String(await freePort()) };
  const withPorts = (environment: Record<string, string>): Record<string, string> => ({
    ...environment, API_PORT: String(apiPort), METRICS_PORT: String(metricsPort), ...(environment.WORKER_METRICS_PORT ? workerPorts : {}),
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

  npmRun('worker', withPorts(environmentOf('worker', rewrite)));
  const apiEnv = withPorts(environmentOf('api', rewrite));
  npmRun('api', apiEnv);
  await until('/readyz ready', async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
    return res.ok ? ((await res.json()) as { status: string }) : undefined;
  }).then((body) => expect(body).toMatchObject({ status: 'ready' }));
  // The worker's metrics listener, as prometheus scrapes it at worker:9465: process and Temporal SDK metrics.
  await until('the worker serving its metrics', async () => {
    const body = await (await fetch(`http://127.0.0.1:${workerPorts.WORKER_METRICS_PORT}/metrics`)).text();
    return /^sadasya_worker_sdk_metrics_up 1$/m.test(body) && /^temporal_num_pollers\{/m.test(body) ? true : undefined;
  });

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

  const email = `compose${Date.now()}@example.np`;
  const applied = await call('POST', `/api/parties/${demo.slug}/applications`, {
    body: { data: { type: 'applications', attributes: { fullNameEn: 'Asha Shrestha', fullNameNe: 'आशा श्रेष्ठ', gender: 'F', phone: '9841000001', email, wardId: demo.wards[0]!.id, ...ELIGIBLE } } },
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

  // The api service's health check, as compose runs it inside the container (its port is this test's).
  const check = project.services.api!.healthcheck!.test as string[];
  expect(check[0]).toBe('CMD');
  const health = spawnSync(process.execPath, check.slice(2).map((arg) => arg.replaceAll('127.0.0.1:3000', `127.0.0.1:${apiPort}`)), { encoding: 'utf8', timeout: 10_000 });
  expect(health.status).toBe(0);
  // ...and it fails when the answer is not a 2xx (a 404 is not health).
  const notFound = spawnSync(process.execPath, check.slice(2).map((arg) => arg.replaceAll('127.0.0.1:3000/readyz', `127.0.0.1:${apiPort}/no-such-page`)), { encoding: 'utf8', timeout: 10_000 });
  expect(notFound.status).toBe(1);
  process.stdout.write(`compose-parity: init, migrate (with geography), worker, api and one membership to its card in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}, 180_000);
