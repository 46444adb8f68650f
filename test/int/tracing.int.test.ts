import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'slonik';
import { issueToken } from '../../src/auth/tokens.ts';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { startEntryPoint, waitFor, type EntryPointProcess } from '../support/entry-points.ts';
import { projectRoot } from '../../src/paths.ts';
import { makeCommittee, makeTenant, seedMiniGeography } from '../support/fixtures.ts';
import { freePort } from '../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';
import { payloadsIn, payloadText, unsealedPayloads } from '../support/temporal-payloads.ts';

// Traces (docs/observability.md): `npm run api` and `npm run worker` as their own processes,
// OTLP/HTTP pointed at a receiver this test runs (the exporter is the real one). One application
// is traced from the HTTP request through the workflow and its activities to SQL.

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: { key: string; value: Record<string, unknown> }[]; service: string }

let db: TestDatabase;
let smtp: SmtpCapture;
let tmp: string;
let receiver: Server;
const bodies: string[] = [];
const spans: OtlpSpan[] = [];
const processes: EntryPointProcess[] = [];

function received(body: string): void {
  bodies.push(body);
  const doc = JSON.parse(body) as { resourceSpans?: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans?: { spans?: Omit<OtlpSpan, 'service'>[] }[] }[] };
  for (const resource of doc.resourceSpans ?? []) {
    const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    for (const scope of resource.scopeSpans ?? []) for (const span of scope.spans ?? []) spans.push({ ...span, service });
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtpCapture();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sadasya-test-tracing-'));
  // An OTLP/HTTP receiver: the exporter posts JSON (ExportTraceServiceRequest) to /v1/traces.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json')) received(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await new Promise((resolve) => receiver?.close(resolve));
  await Promise.allSettled([db?.close(), smtp?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value;

test('one trace links the HTTP request, the workflow start and run, an activity and its SQL; no personal data in any span', async () => {
  const masterKey = randomBytes(32).toString('base64');
  const tokenSecret = randomBytes(32);
  const geo = await seedMiniGeography(db.owner);
  const tenant = await makeTenant(db.app, new Keyring(masterKeyFromBase64(masterKey)), `traced-${db.name.slice(-6)}`, 'TRC');
  const committeeId = await makeCommittee(db.app, tenant.id, geo.localLevelId, 'Traced Committee');
  const headId = await withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, async (tx) => {
    const { id } = await createUser(tx, tenant.id, { email: 'head@traced.test', displayName: 'Head', password: 'a long enough password' });
    await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenant.id}, ${committeeId}, ${id}, 'head')`);
    return id;
  });
  const treasurerId = await withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, async (tx) =>
    (await createUser(tx, tenant.id, { email: 'treasurer@traced.test', displayName: 'Treasurer', password: 'a long enough password', roles: ['treasurer'] })).id);

  const apiPort = await freePort();
  const common = {
    HOME: tmp, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATA_DIR: tmp, MASTER_KEY: masterKey,
    DATABASE_URL: db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, SMTP_URL: smtp.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    // Spans leave in batches every 200 ms rather than 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  processes.push(startEntryPoint('worker', common));
  processes.push(startEntryPoint('api', {
    ...common, API_PORT: String(apiPort), METRICS_PORT: String(await freePort()), AUTH_TOKEN_SECRET: tokenSecret.toString('base64'),
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
  }));
  const api = `http://127.0.0.1:${apiPort}`;
  await waitFor('the API ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined), processes);

  const email = 'sita.traced@example.np';
  const applied = await fetch(`${api}/api/parties/${tenant.slug}/applications`, {
    method: 'POST', headers: { 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'applications', attributes: { fullNameEn: 'Sita Tracedkumari', fullNameNe: 'सीता', gender: 'F', phone: '9841777001', email, wardId: geo.wardIds[1], ...ELIGIBLE } } }),
  });
  expect(applied.status).toBe(201);
  const application = (await applied.json()) as { data: { id: string; links: { status: string } } };
  const memberId = application.data.id;
  const statusToken = new URL(application.data.links.status).searchParams.get('token')!;
  // The applicant's private status link: its token must not reach a span.
  expect((await fetch(`${api}/api/parties/${tenant.slug}/applications/${memberId}?token=${statusToken}`, { headers: { accept: 'application/vnd.api+json' } })).status).toBe(200);
  const { token } = await issueToken(tokenSecret, { userId: headId, tenantId: tenant.id });
  await waitFor('the approval accepted', async () => {
    const res = await fetch(`${api}/api/members/${memberId}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'approvals', attributes: { note: 'welcome' } } }),
    });
    return res.status === 200 ? true : undefined;
  }, processes, 60_000);
  const [invoiceMail] = await smtp.waitFor((mail) => /^Membership fee invoice /.test(mail.subject ?? ''), 1, 60_000);
  // Paid: the lifecycle runs to its end, and its RunWorkflow span (which ends with it) is exported.
  const invoiceId = /invoice ([0-9a-f-]{36})/.exec(invoiceMail!.subject ?? '')![1]!;
  const paid = await fetch(`${api}/api/members/${memberId}/payments`, {
    method: 'POST', headers: { authorization: `Bearer ${(await issueToken(tokenSecret, { userId: treasurerId, tenantId: tenant.id })).token}`, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'payments', attributes: { invoiceId, amount: 10_000, currency: 'NPR', reference: 'RCPT-TRACED', paidAt: new Date().toISOString() } } }),
  });
  expect(paid.status).toBe(201);

  // The application's trace: its HTTP server span, the workflow's start (API) and run (worker), an activity, SQL in both processes.
  const trace = await waitFor('the application traced end to end', () => {
    const request = spans.find((s) => s.service === 'sadasya-api' && s.kind === 2 && attribute(s, 'http.method')?.stringValue === 'POST' && String(attribute(s, 'http.target')?.stringValue).endsWith('/applications'));
    if (!request) return Promise.resolve(undefined);
    const inTrace = spans.filter((s) => s.traceId === request.traceId);
    const has = (predicate: (s: OtlpSpan) => boolean) => inTrace.some(predicate);
    const complete = has((s) => s.name.startsWith('StartWorkflow:') && s.service === 'sadasya-api')
      && has((s) => s.name.startsWith('RunWorkflow:') && s.service === 'sadasya-worker')
      && has((s) => s.name.startsWith('RunActivity:') && s.service === 'sadasya-worker')
      && has((s) => attribute(s, 'db.system')?.stringValue === 'postgresql' && s.service === 'sadasya-api')
      && has((s) => attribute(s, 'db.system')?.stringValue === 'postgresql' && s.service === 'sadasya-worker' && inTrace.some((p) => p.spanId === s.parentSpanId && p.name.startsWith('RunActivity:')));
    return Promise.resolve(complete ? { request, inTrace } : undefined);
  }, processes, 60_000);
  // Parent links: every span of the trace but the request's own has its parent in the trace.
  const ids = new Set(trace.inTrace.map((s) => s.spanId));
  expect(trace.inTrace.filter((s) => s !== trace.request && !ids.has(s.parentSpanId ?? '')).map((s) => s.name)).toEqual([]);
  expect(trace.request.parentSpanId ?? '').toBe('');
  // The server span is named by the route pattern Express matched, never by ids.
  const route = attribute(trace.request, 'http.route')?.stringValue;
  expect(route).toMatch(/^\/.*applications$/);
  expect(route).not.toContain(tenant.slug);
  expect(trace.request.name).toBe(`POST ${String(route)}`);

  // No personal data anywhere the exporter sent: names, phone, email, the status token; no client address or user agent.
  const all = bodies.join('\n');
  for (const personal of ['Sita', 'Tracedkumari', 'सीता', '9841777001', email, statusToken]) expect(all).not.toContain(personal);
  const keys = new Set(spans.flatMap((s) => (s.attributes ?? []).map((a) => a.key)));
  for (const key of ['net.peer.ip', 'http.client_ip', 'http.user_agent', 'user_agent.original', 'url.query', 'db.postgresql.values']) expect(keys).not.toContain(key);
  // In Temporal's store, the only payloads the codec did not seal (headers never pass through it) are the trace context: a W3C traceparent, nothing else.
  const client = new Client({ connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }) });
  try {
    const history = await client.workflow.getHandle(`member-${tenant.id}-${memberId}`).fetchHistory();
    const plain = unsealedPayloads(payloadsIn(history.events));
    expect(plain.length).toBeGreaterThan(3);
    for (const p of plain) {
      expect(p.at).toMatch(/\.header\.fields\._tracer-data$/);
      expect(JSON.parse(payloadText(p.payload))).toEqual({ traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/) });
    }
  } finally {
    await client.connection.close();
  }
  const statusRead = spans.find((s) => s.kind === 2 && String(attribute(s, 'http.target')?.stringValue).startsWith(`/api/parties/${tenant.slug}/applications/${memberId}`));
  expect(statusRead && attribute(statusRead, 'http.target')?.stringValue).toBe(`/api/parties/${tenant.slug}/applications/${memberId}`);
}, 300_000);

/**
 * Packages `npm run api` must not load without OTLP configured: the tracing SDK, its exporter,
 * instrumentations and loader hooks (imported only when tracing starts), and what only the worker
 * or the CLI needs (the Temporal worker, PDF and fonts for cards, mail). Each costs the API
 * resident memory it never uses (issue #17 item 7; bench/results/2026-12-05-memory-api.md).
 */
const NOT_IN_AN_UNTRACED_API = [
  /\/node_modules\/@opentelemetry\/(?!api\/)/, /\/node_modules\/(import|require)-in-the-middle\//, /\/node_modules\/@temporalio\/interceptors-opentelemetry\//,
  /\/node_modules\/@temporalio\/worker\//, /\/node_modules\/@temporalio\/core-bridge\//, /\/node_modules\/(pdf-lib|@pdf-lib\/fontkit|@expo-google-fonts\/[^/]+|qrcode|nodemailer|csv-parse|pg-copy-streams|cli-progress)\//,
];

test('without OTLP configured, the API loads none of the tracing SDK, nor what only the worker or the CLI needs', async () => {
  const apiPort = await freePort();
  const moduleLog = path.join(tmp, 'api-modules.txt');
  const api = startEntryPoint('api', {
    HOME: tmp, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATA_DIR: tmp, MASTER_KEY: randomBytes(32).toString('base64'),
    DATABASE_URL: db.appUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, AUTH_TOKEN_SECRET: randomBytes(32).toString('base64'),
    API_PORT: String(apiPort), METRICS_PORT: String(await freePort()),
    NODE_OPTIONS: `--import ${path.join(projectRoot, 'test', 'support', 'module-log.ts')}`, MODULE_LOG: moduleLog,
  });
  processes.push(api);
  const url = `http://127.0.0.1:${apiPort}`;
  await waitFor('the API ready', async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined), [api]);
  // A few of its routes answered: nothing is loaded on the first request either.
  expect((await fetch(`${url}/openapi.json`)).status).toBe(200);
  expect((await fetch(`${url}/api/members`, { headers: { accept: 'application/vnd.api+json' } })).status).toBe(401);
  const loaded = (await readFile(moduleLog, 'utf8')).split('\n').filter(Boolean);
  // The log is the API's: its entry point, the web framework and Temporal's client are in it.
  expect(loaded.some((u) => u.endsWith('/api/server.ts'))).toBe(true);
  expect(loaded.some((u) => u.includes('/node_modules/@temporalio/client/'))).toBe(true);
  expect(loaded.filter((u) => NOT_IN_AN_UNTRACED_API.some((p) => p.test(u)))).toEqual([]);
}, 120_000);
