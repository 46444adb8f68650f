import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, requiredSettings, requireSettings, type EntryPoint } from '../../src/config.ts';
import { APP_ROLE, OWNER_ROLE, bootstrapScript } from '../../src/db/bootstrap.ts';
import { projectRoot } from '../../src/paths.ts';
import { TASK_QUEUES } from '../../src/temporal/task-queue.ts';
import { InterpolationError, composeVariables, generatedDotEnv, interpolate, rawCompose, resolvedCompose, serviceEnvironment } from '../support/compose-file.ts';

// The static check of docker-compose.yml: what the production entry points need is derived from
// src/config.ts (REQUIRED_SETTINGS, which api/server.ts, src/worker.ts and src/db/migrate-cli.ts
// enforce), not copied here; test/int/compose-parity.int.test.ts then runs the services.

const dotEnv = generatedDotEnv((bytes, encoding) => randomBytes(bytes).toString(encoding));
const project = resolvedCompose(dotEnv);
const docs = readFileSync(path.join(projectRoot, 'docs', 'docker-compose.md'), 'utf8');
const entryPoints: EntryPoint[] = ['api', 'worker', 'migrate'];

test('interpolation follows compose: defaults, required values, $$', () => {
  expect(interpolate('${A:-x}/${B-y}/${C}/$$HOME', { B: '' })).toBe('x//' + '/$HOME');
  expect(interpolate('${A:?set A}', { A: 'a' })).toBe('a');
  expect(() => interpolate('${A:?set A}', { A: '' })).toThrow(InterpolationError);
});

test.each(entryPoints)('the %s service runs its npm script with every variable src/config.ts requires, and the config accepts them', (entryPoint) => {
  const service = project.services[entryPoint]!;
  expect(service.command).toEqual(['npm', 'run', entryPoint]);
  const environment = serviceEnvironment(project, entryPoint);
  expect(environment.NODE_ENV).toBe('production');
  const required = requiredSettings(entryPoint, 'production');
  expect(required.filter((name) => !environment[name])).toEqual([]);
  // The image's own ENV (Dockerfile) adds nothing required: the service's environment alone passes.
  const settings = loadConfig(environment);
  expect(() => requireSettings(settings, entryPoint)).not.toThrow();
});

test('the worker and card-worker services run the worker entry point on task queues that, together, are every queue, each served once', () => {
  const card = project.services['card-worker']!;
  expect(card.command).toEqual(project.services.worker!.command);
  const environment = serviceEnvironment(project, 'card-worker');
  expect(requiredSettings('worker', 'production').filter((name) => !environment[name])).toEqual([]);
  const served = ['worker', 'card-worker'].flatMap((name) => loadConfig(serviceEnvironment(project, name)).WORKER_TASK_QUEUES);
  expect(served.sort()).toEqual([...TASK_QUEUES].sort());
  // Cards are written where the api serves them from.
  expect(card.volumes).toEqual(project.services.worker!.volumes);
  expect(card.depends_on).toEqual(project.services.worker!.depends_on);
  expect(card.stop_grace_period).toBe(project.services.worker!.stop_grace_period);
});

test('the required list is the one the entry points enforce: without one of them they refuse to start', () => {
  for (const entryPoint of entryPoints) {
    for (const name of requiredSettings(entryPoint, 'production')) {
      const environment = { ...serviceEnvironment(project, entryPoint) };
      delete environment[name];
      expect(() => requireSettings(loadConfig(environment), entryPoint)).toThrow(name);
    }
  }
  for (const file of ['api/server.ts', 'src/worker.ts', 'src/db/migrate-cli.ts']) {
    expect(readFileSync(path.join(projectRoot, file), 'utf8')).toMatch(/requireSettings\(settings, '(api|worker|migrate)'\)/);
  }
});

test('a secret left out of .env stops compose before anything starts, naming it', () => {
  for (const name of composeVariables().required) {
    const partial = { ...dotEnv };
    delete partial[name as keyof typeof partial];
    expect(() => resolvedCompose(partial)).toThrow(new RegExp(`required variable ${name} `));
  }
});

test('the app connects with the passwords the postgres service creates its roles with', () => {
  const postgres = serviceEnvironment(project, 'postgres');
  const app = new URL(serviceEnvironment(project, 'api').DATABASE_URL!);
  const owner = new URL(serviceEnvironment(project, 'migrate').DATABASE_OWNER_URL!);
  expect([app.username, app.password, app.hostname, app.pathname]).toEqual([APP_ROLE, postgres.SADASYA_APP_PASSWORD, 'postgres', '/sadasya']);
  expect([owner.username, owner.password, owner.hostname, owner.pathname]).toEqual([OWNER_ROLE, postgres.SADASYA_OWNER_PASSWORD, 'postgres', '/sadasya']);
  // The init script's own requirements are given to the postgres service.
  const script = readFileSync(path.join(projectRoot, 'docker', 'postgres-init', '01-roles.sh'), 'utf8');
  for (const [, name] of script.matchAll(/: "\$\{(\w+):\?/g)) expect(postgres[name!]).toBeTruthy();
  expect(rawCompose().services.postgres!.volumes).toContain('./docker/postgres-init:/docker-entrypoint-initdb.d:ro');
  // One bootstrap: the script runs the file bootstrap.ts reads, and it marks the search operators leakproof.
  expect(script).toContain('$init_dir/sadasya.psql');
  expect(bootstrapScript().inDatabase.join('\n')).toMatch(/LEAKPROOF/);
});

test('the api health check asks /readyz and fails on any answer but a 2xx', () => {
  const test = project.services.api!.healthcheck!.test;
  const command = Array.isArray(test) ? test.join(' ') : test;
  expect(command).toContain('http://127.0.0.1:3000/readyz');
  expect(command).toMatch(/r\.ok \? 0 : 1/);
  for (const [name, service] of Object.entries(project.services)) {
    const check = service.healthcheck?.test;
    // No health check may take an HTTP answer as health without looking at its status.
    if (check) expect({ name, check: (Array.isArray(check) ? check.join(' ') : check) }).not.toEqual({ name, check: expect.stringMatching(/wget --spider|curl (?!.*--fail)|\/healthz/) });
  }
});

test('every variable the file reads is documented in docs/docker-compose.md', () => {
  const { required, optional } = composeVariables();
  expect(required.size).toBeGreaterThan(5);
  const undocumented = [...required, ...optional].filter((name) => !docs.includes(`\`${name}\``));
  expect(undocumented).toEqual([]);
});

test('every image pulled is pinned to a version (major.minor at least), never latest', () => {
  for (const [name, service] of Object.entries(project.services)) {
    if (service.build) continue;
    const image = service.image ?? '';
    expect({ name, image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+(:v?\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$/) });
  }
});

test('prometheus and grafana: health checks, provisioning mounted from deploy/, scrape targets on the ports the app services listen on, no secret in the file', () => {
  const raw = rawCompose();
  for (const name of ['prometheus', 'grafana']) {
    const service = project.services[name]!;
    const check = service.healthcheck?.test;
    expect({ name, check: Array.isArray(check) ? check.join(' ') : check }).toEqual({ name, check: expect.stringMatching(/^CMD wget -q -O \/dev\/null http:\/\/127\.0\.0\.1:\d+\/(-\/ready|api\/health)$/) });
    // Published on loopback only by default: neither has a login in front of it that the product manages.
    for (const port of service.ports ?? []) expect(String(port)).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    for (const volume of (raw.services[name]!.volumes ?? []).map(String).filter((v) => v.startsWith('./'))) {
      expect(existsSync(path.join(projectRoot, volume.split(':')[0]!))).toBe(true);
    }
  }
  // Prometheus scrapes the ports the api and both worker services are given.
  const scrape = readFileSync(path.join(projectRoot, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
  expect(scrape).toContain(`"api:${serviceEnvironment(project, 'api').METRICS_PORT}"`);
  expect(scrape).toContain(`"worker:${serviceEnvironment(project, 'worker').WORKER_METRICS_PORT}"`);
  expect(scrape).toContain(`"card-worker:${serviceEnvironment(project, 'card-worker').WORKER_METRICS_PORT}"`);
  expect(serviceEnvironment(project, 'worker').WORKER_METRICS_HOST).toBe('0.0.0.0');
  // Grafana's admin password comes from .env (required), never from the file.
  expect(raw.services.grafana!.environment).toMatchObject({ GF_SECURITY_ADMIN_PASSWORD: expect.stringMatching(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/) });
  expect(composeVariables().required).toContain('GRAFANA_ADMIN_PASSWORD');
  const provisioned = readFileSync(path.join(projectRoot, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
  expect(provisioned).toContain('url: http://prometheus:9090');
  expect(provisioned).not.toMatch(/password|secureJsonData|basicAuth: true/i);
});

test('the api service bounds V8\'s heap (young generation 8 MiB a semi-space, old 128 MB), overridable by API_NODE_OPTIONS; the worker its young generation (16 MiB), overridable by WORKER_NODE_OPTIONS; the card worker and the migrator keep Node\'s defaults', () => {
  // The API under 256 MiB resident under load (bench/results/2026-12-05-memory-api.md); the worker's cache wants more heap.
  expect(serviceEnvironment(project, 'api').NODE_OPTIONS).toBe('--max-semi-space-size=8 --max-old-space-size=128');
  expect(serviceEnvironment(resolvedCompose({ ...dotEnv, API_NODE_OPTIONS: '--max-old-space-size=192' }), 'api').NODE_OPTIONS).toBe('--max-old-space-size=192');
  expect(serviceEnvironment(project, 'worker').NODE_OPTIONS).toBe('--max-semi-space-size=16');
  expect(serviceEnvironment(resolvedCompose({ ...dotEnv, WORKER_NODE_OPTIONS: '--max-semi-space-size=32' }), 'worker').NODE_OPTIONS).toBe('--max-semi-space-size=32');
  for (const other of ['card-worker', 'migrate']) expect(serviceEnvironment(project, other).NODE_OPTIONS).toBeUndefined();
});
