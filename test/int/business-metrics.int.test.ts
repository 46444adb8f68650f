import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import { sql, type Interceptor } from 'slonik';
import { z } from 'zod';
import { metricsRoutes } from '../../api/metrics.ts';
import { createOpsApp } from '../../api/ops-app.ts';
import { createDatabasePool, type DatabasePool } from '../../src/db/pool.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { rejectUpdate } from '../../src/members/lifecycle-contract.ts';
import { cachedBusinessMetrics, readBusinessMetrics } from '../../src/statistics/business-metrics.ts';
import { makeTenant } from '../support/fixtures.ts';
import { admitMember, approveAndAwaitInvoice, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

// Business metrics (docs/observability.md): read from the database at scrape time, one statement
// per scrape however many scrapers ask, labelled by party slug, on the private ops listener.

let h: LifecycleHarness;
let worker: { worker: Worker; running: Promise<void> };
let counted: DatabasePool;
let statements = 0;
let ops: Server;
let opsUrl: string;
const started = Date.now();

const countBusinessStatements: Interceptor = {
  name: 'count-business-metrics',
  beforeQueryExecution: (_context, query) => {
    if (query.sql.includes('business_metrics()')) statements++;
    return null;
  },
};

beforeAll(async () => {
  h = await startLifecycleHarness();
  worker = await h.startWorker();
  counted = await createDatabasePool(h.db.appUrl, { maximumPoolSize: 2, interceptors: [countBusinessStatements] });
  ops = createOpsApp({ pool: h.db.app, temporal: h.client, namespace: 'default', metrics: metricsRoutes({ business: cachedBusinessMetrics(counted, 60_000) }) }).listen(0, '127.0.0.1');
  await new Promise((resolve) => ops.once('listening', resolve));
  opsUrl = `http://127.0.0.1:${(ops.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => ops?.close(resolve));
  await counted?.end();
  worker?.worker.shutdown();
  await worker?.running;
  await h?.close();
});

/** `name{labels} value` lines of a scrape, by name and labels as written. */
function samples(body: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of body.split('\n')) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) found.set(match[1]!, Number(match[2]));
  }
  return found;
}

test('the ops /metrics reports applications, decisions, payments, members per status and the longest wait per stage, per party', async () => {
  const other = await makeTenant(h.db.app, h.keyring, `other-${h.db.name.slice(-6)}`, 'OTH');
  await admitMember(h, 'admitted@example.np');
  await approveAndAwaitInvoice(h, 'awaiting.payment@example.np');
  await registerMember(h, 'awaiting.approval@example.np');
  const rejected = await registerMember(h, 'rejected@example.np');
  await sendLifecycleUpdate(h.client, rejected.workflowId, rejectUpdate, { by: `user:${h.headUserId}`, reason: 'not resident in the ward' });

  // Three scrapers at once and two more after: one statement (the figures are cached 60 s here).
  const bodies = await Promise.all([1, 2, 3].map(() => fetch(`${opsUrl}/metrics`).then((res) => res.text())));
  for (const body of [await fetch(`${opsUrl}/metrics`).then((res) => res.text()), await fetch(`${opsUrl}/metrics`).then((res) => res.text())]) bodies.push(body);
  expect(statements).toBe(1);
  const figures = bodies.map((body) => body.split('\n').filter((line) => line.startsWith('sadasya_')).join('\n'));
  expect(figures.slice(1)).toEqual(figures.slice(0, -1));

  const party = h.tenant.slug;
  const scraped = samples(bodies[0]!);
  expect(scraped.get('sadasya_business_metrics_up')).toBe(1);
  expect(Object.fromEntries(['MemberRegistered', 'MemberApproved', 'MemberRejected', 'PaymentReceived', 'MemberActivated'].map((type) => [type, scraped.get(`sadasya_events_total{party="${party}",type="${type}"}`)])))
    .toEqual({ MemberRegistered: 4, MemberApproved: 2, MemberRejected: 1, PaymentReceived: 1, MemberActivated: 1 });
  expect(Object.fromEntries(['awaiting_approval', 'awaiting_payment', 'active', 'rejected', 'expired', 'withdrawn', 'lapsed'].map((status) => [status, scraped.get(`sadasya_members{party="${party}",status="${status}"}`)])))
    .toEqual({ awaiting_approval: 1, awaiting_payment: 1, active: 1, rejected: 1, expired: 0, withdrawn: 0, lapsed: 0 });
  const elapsed = (Date.now() - started) / 1000;
  for (const stage of ['awaiting_approval', 'awaiting_payment']) {
    const waited = scraped.get(`sadasya_oldest_waiting_seconds{party="${party}",stage="${stage}"}`)!;
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThan(elapsed + 1);
  }
  // The other party: its own rows, all zero; no event of the first party counted for it.
  expect(scraped.get(`sadasya_members{party="${other.slug}",status="active"}`)).toBe(0);
  expect(scraped.get(`sadasya_oldest_waiting_seconds{party="${other.slug}",stage="awaiting_approval"}`)).toBe(0);
  expect([...scraped.keys()].filter((key) => key.startsWith(`sadasya_events_total{party="${other.slug}"`))).toEqual([]);
  // Nothing personal: the labels are party slugs, statuses, stages and event types only.
  const all = bodies[0]!;
  for (const personal of ['admitted@example.np', 'Ram Thapa', 'राम थापा', '9841']) expect(all).not.toContain(personal);
});

test('the event counts equal a count of the event store, and the caller keeps its own party binding', async () => {
  const Count = z.object({ type: z.string(), n: z.number() });
  const [direct, kept] = await withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, async (tx) => {
    const direct = await tx.any(sql.type(Count)`SELECT event_type AS type, count(*)::int AS n FROM event_store GROUP BY event_type ORDER BY 1`);
    const kept = await tx.any(sql.type(Count)`SELECT event_type AS type, events::int AS n FROM event_counts ORDER BY 1`);
    // business_metrics() enters every party in turn and puts this transaction's binding back.
    await tx.query(sql.unsafe`SELECT count(*) FROM business_metrics()`);
    expect(await tx.oneFirst(sql.type(z.object({ t: z.string() }))`SELECT app_current_tenant()::text AS t`)).toBe(h.tenant.id);
    return [direct, kept];
  });
  expect(kept).toEqual(direct);
  expect(direct.length).toBeGreaterThan(3);
  const { rows } = await readBusinessMetrics(h.db.app);
  expect(rows.filter((row) => row.metric === 'events' && row.party === h.tenant.slug).map((row) => ({ type: row.label, n: row.value })).sort((a, b) => a.type.localeCompare(b.type))).toEqual(direct);
  // The application role may read the counts of its own party only, and may not write them.
  await expect(withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`UPDATE event_counts SET events = 0`))).rejects.toThrow(/permission denied/);
});

test('a scrape answers when the database cannot: business figures absent, sadasya_business_metrics_up 0', async () => {
  const errors: unknown[] = [];
  const failing = metricsRoutes({ business: () => Promise.reject(new Error('connection refused')), onBusinessError: (err) => errors.push(err) });
  const server = createOpsApp({ pool: h.db.app, temporal: h.client, namespace: 'default', metrics: failing }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(res.status).toBe(200);
    const scraped = samples(await res.text());
    expect(scraped.get('sadasya_business_metrics_up')).toBe(0);
    expect([...scraped.keys()].filter((key) => key.startsWith('sadasya_members{'))).toEqual([]);
    expect(scraped.has('process_cpu_user_seconds_total')).toBe(true);
    expect(errors).toHaveLength(1);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
