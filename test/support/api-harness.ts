import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { createApp } from '../../api/app.ts';
import { metricsRoutes } from '../../api/metrics.ts';
import { createOpsApp } from '../../api/ops-app.ts';
import type { RouteRegistry } from '../../api/http/route.ts';
import { contractProblems } from './contract.ts';
import type { ApiDeps } from '../../api/deps.ts';
import { issueToken } from '../../src/auth/tokens.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { createLogger } from '../../src/logger.ts';
import { MemberEventHub } from '../../src/events/member-event-hub.ts';
import { createUser, type UserRole } from '../../src/users/users.ts';
import { makeWebhookSecret } from './webhooks.ts';
import { startLifecycleHarness, type HarnessDurations, type LifecycleHarness } from './lifecycle-harness.ts';
import type { MasterKey } from '../../src/crypto/master-key.ts';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read JSON:API documents freely
}

export interface ApiHarness extends LifecycleHarness {
  baseUrl: string;
  /** The private ops listener (api/ops-app.ts): /metrics and /readyz with its detail. */
  opsUrl: string;
  apiDeps: ApiDeps;
  request(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<ApiResponse>;
  /** A new user of the harness tenant with these roles (and headships), and a bearer token for them. */
  userWithToken(options?: { roles?: UserRole[]; headOf?: string[] }): Promise<{ userId: string; token: string }>;
  /** A bearer token for an existing user of the harness tenant. */
  tokenFor(userId: string): Promise<string>;
  /** The harness tenant's webhook secret for a provider (created on first use, then the same). */
  webhookSecret(provider?: string): Promise<string>;
  /** Runs `work` with the harness worker shut down (nothing polls the task queue), then starts a new worker. */
  withoutWorker<T>(work: () => Promise<T>): Promise<T>;
}

/** The API over the lifecycle harness: a real worker, real Postgres, a real listening HTTP server. */
export async function startApiHarness(durations: HarnessDurations = {}, overrides: Partial<ApiDeps> = {}, options: { masterKey?: MasterKey } = {}): Promise<ApiHarness & { stop(): Promise<void> }> {
  const h = await startLifecycleHarness(durations, options);
  let current = await h.startWorker();
  const apiDeps: ApiDeps = {
    pool: h.db.app, temporal: h.client, namespace: 'default', log: createLogger('test-api', process.env.API_LOG ?? 'silent'),
    keyring: h.keyring, storage: h.deps.storage, tokenSecret: randomBytes(32), platformAdminKey: randomBytes(24).toString('hex'),
    publicBaseUrl: 'https://members.test', clock: () => new Date(),
    publicRateLimit: 100_000, registrationRateLimit: 100_000, metrics: metricsRoutes(), memberEvents: new MemberEventHub(h.db.appUrl), ...overrides,
  };
  const app = createApp(apiDeps);
  const ops: Server = createOpsApp({ ...apiDeps, metrics: apiDeps.metrics ?? metricsRoutes() }).listen(0, '127.0.0.1');
  await new Promise((resolve) => ops.once('listening', resolve));
  const opsAddress = ops.address();
  const opsUrl = `http://127.0.0.1:${typeof opsAddress === 'object' && opsAddress ? opsAddress.port : 0}`;
  const registry = app.locals.registry as RouteRegistry;
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  let users = 0;
  const webhookSecrets = new Map<string, Promise<string>>();
  return {
    ...h, baseUrl, opsUrl, apiDeps,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { accept: 'application/vnd.api+json', ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (body !== undefined) headers['content-type'] ??= 'application/vnd.api+json';
      const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
      // A live stream (Server-Sent Events) never ends: its status and headers are the answer.
      const stream = res.headers.get('content-type')?.startsWith('text/event-stream');
      if (stream) await res.body?.cancel();
      const text = stream ? '' : await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON (a PDF, Swagger UI): keep the text
      }
      // Every answer a test sees keeps the documented contract, or the test fails here.
      const problems = contractProblems(registry, { method, url: path }, { status: res.status, contentType: res.headers.get('content-type') ?? '', body: parsed });
      if (problems.length) throw new Error(`the API broke its OpenAPI contract: ${problems.join('; ')}`);
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async userWithToken(options = {}) {
      const userId = await withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, async (tx) => {
        const { id } = await createUser(tx, h.tenant.id, { email: `user${++users}-${randomBytes(3).toString('hex')}@party.test`, displayName: `User ${users}`, password: 'a long enough password', roles: options.roles ?? [] });
        for (const committeeId of options.headOf ?? []) {
          await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${h.tenant.id}, ${committeeId}, ${id}, 'head')`);
        }
        return id;
      });
      const { token } = await issueToken(apiDeps.tokenSecret, { userId, tenantId: h.tenant.id });
      return { userId, token };
    },
    async tokenFor(userId) {
      return (await issueToken(apiDeps.tokenSecret, { userId, tenantId: h.tenant.id })).token;
    },
    webhookSecret(provider = 'esewa') {
      const secret = webhookSecrets.get(provider) ?? makeWebhookSecret(h.db.app, h.keyring, h.tenant.id, provider);
      webhookSecrets.set(provider, secret);
      return secret;
    },
    async withoutWorker(work) {
      await stopWorker(current.worker, current.running);
      try {
        return await work();
      } finally {
        current = await h.startWorker();
      }
    },
    async stop() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections(); // live streams never end by themselves
      await closed;
      await new Promise((resolve) => ops.close(resolve));
      await apiDeps.memberEvents?.stop();
      await stopWorker(current.worker, current.running);
      await h.close();
    },
  };
}

async function stopWorker(worker: Worker, running: Promise<void>): Promise<void> {
  worker.shutdown();
  await running;
}
