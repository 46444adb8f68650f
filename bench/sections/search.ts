import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { memberSearchQuery, searchMembers, type MemberSearch } from '../../src/members/member-queries.ts';
import { blindIndex } from '../../src/members/personal-data.ts';
import { readStatistics } from '../../src/statistics/member-statistics.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import type { HttpClient } from '../support/http-client.ts';
import { latencyRow, ratio, round, summarize, type Latency } from '../support/stats.ts';

interface Probe {
  name: string;
  query: string;
  search: Omit<MemberSearch, 'limit'>;
}

/** The API's own cost beyond the query and a bare HTTP exchange: the goal is at most 1 ms. */
export const OVERHEAD_GOAL_MS = 1;

/** One query measured three ways, alternating request by request so drift over the run falls on all three. */
export interface Comparison {
  name: string;
  /** The HTTP request from the client thread: auth, validation, the tenant transaction, JSON:API. */
  api: Latency;
  /** The same query through the data layer in its tenant transaction, in the API's process (no HTTP, auth or JSON). */
  sql: Latency;
  /** `GET /healthz` from the same client thread: the HTTP exchange alone. */
  healthz: Latency;
  /** API p95 − SQL p95 − healthz p95, in ms. */
  overheadP95: number;
  ratioP95: number;
}

async function compare(client: HttpClient, name: string, times: number, path: string, token: string, viaSql: () => Promise<unknown>): Promise<Comparison> {
  const viaApi = async () => {
    const res = await client.get(path, token);
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${res.body ?? ''}`);
    return res.ms;
  };
  const timedSql = async () => {
    const start = performance.now();
    await viaSql();
    return performance.now() - start;
  };
  const health = async () => (await client.get('/healthz')).ms;
  await viaApi();
  await timedSql();
  await health();
  const samples = { api: [] as number[], sql: [] as number[], healthz: [] as number[] };
  for (let i = 0; i < times; i++) {
    samples.api.push(await viaApi());
    samples.sql.push(await timedSql());
    samples.healthz.push(await health());
  }
  const [api, sql, healthz] = [summarize(samples.api), summarize(samples.sql), summarize(samples.healthz)];
  return { name, api, sql, healthz, overheadP95: round(api.p95 - sql.p95 - healthz.p95), ratioP95: ratio(api.p95, sql.p95) };
}

const Node = z.object({ id: z.string(), path: z.string() });

/** Every filter the search API offers, alone and combined, on the party's own data. */
export async function probes(api: ApiHarness, token: string): Promise<Probe[]> {
  const pick = (type: string) => api.db.app.one(sql.type(Node)`
    SELECT g.id, g.path::text AS path FROM geography_nodes g WHERE g.type = ${type}::geography_type
    ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
  const [province, district, localLevel, ward] = [await pick('province'), await pick('district'), await pick('local_level'), await pick('ward')];
  const any = await api.request('GET', '/api/members?page[size]=1', { token });
  const phone = any.body.data[0].attributes.phone as string;
  const keys = await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => api.keyring.forTenant(tx, api.tenant.id));
  const surname = 'Sharma';
  // The second page of the busiest filter: the cursor is the 25th member of the first page.
  const firstPage = await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => searchMembers(tx, { status: 'active', limit: 25 }));
  const last = firstPage[firstPage.length - 1]!;
  const after = { registeredAt: new Date(last.registeredAt).toISOString(), id: last.id };
  const cursor = Buffer.from(`${after.registeredAt}|${after.id}`).toString('base64url');
  return [
    { name: 'name (common surname)', query: `filter[name]=${surname}`, search: { name: surname } },
    { name: 'name (rare)', query: 'filter[name]=Zzyzx', search: { name: 'Zzyzx' } },
    { name: 'phone (blind index)', query: `filter[phone]=${encodeURIComponent(phone)}`, search: { phoneBidx: [blindIndex(keys, 'phone', phone)] } },
    { name: 'status (most members)', query: 'filter[status]=active', search: { status: 'active' } },
    { name: 'status (few members)', query: 'filter[status]=awaiting_approval', search: { status: 'awaiting_approval' } },
    { name: 'status, second page', query: `filter[status]=active&page[cursor]=${cursor}`, search: { status: 'active', after } },
    { name: 'province subtree', query: `filter[geography]=${province.id}`, search: { geographyPath: province.path } },
    { name: 'district subtree', query: `filter[geography]=${district.id}`, search: { geographyPath: district.path } },
    { name: 'local level subtree', query: `filter[geography]=${localLevel.id}`, search: { geographyPath: localLevel.path } },
    { name: 'ward', query: `filter[geography]=${ward.id}`, search: { geographyPath: ward.path } },
    { name: 'committee', query: `filter[committee]=${api.committeeId}`, search: { committeeId: api.committeeId } },
    { name: 'date range', query: 'filter[registeredFrom]=2020-01-01&filter[registeredTo]=2020-02-01', search: { registeredFrom: '2020-01-01', registeredTo: '2020-02-01' } },
    { name: 'name + province', query: `filter[name]=${surname}&filter[geography]=${province.id}`, search: { name: surname, geographyPath: province.path } },
    { name: 'status + district + dates', query: `filter[status]=active&filter[geography]=${district.id}&filter[registeredFrom]=2015-01-01`, search: { status: 'active', geographyPath: district.path, registeredFrom: '2015-01-01' } },
  ];
}

/** Search through the API against the same query through the data layer and against `/healthz`. */
export async function benchSearch(api: ApiHarness, client: HttpClient, token: string, times: number): Promise<Comparison[]> {
  const rows = [];
  for (const probe of await probes(api, token)) {
    rows.push(await compare(client, probe.name, times, `/api/members?${probe.query}&page[size]=25`, token,
      () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => searchMembers(tx, { ...probe.search, limit: 26 }))));
  }
  return rows;
}

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of every probe's query as the application role, row-level
 * security in force: the plans docs/search-plans.md shows.
 */
export async function explainSearch(api: ApiHarness, token: string): Promise<string> {
  const members = await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) =>
    tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`));
  const lines = [
    '# Member search plans',
    '',
    `Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} at ${members.toLocaleString('en')} members in the party, from the`,
    'same probes as the benchmark report, run as the application role with row-level security in',
    'force (the `tenant_id = NULLIF(current_setting(...))` condition is the tenant policy). Each',
    'query asks for one page of 25 plus one row, newest first. docs/search.md explains the design.',
  ];
  for (const probe of await probes(api, token)) {
    const plan = await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) =>
      tx.anyFirst(sql.type(z.object({ 'QUERY PLAN': z.string() }))`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${memberSearchQuery({ ...probe.search, limit: 26 })}`));
    lines.push('', `## ${probe.name}`, '', `\`GET /api/members?${probe.query.replace(/page\[cursor\]=[^&]+/, 'page[cursor]=…')}\``, '', '```', ...plan, '```');
  }
  return `${lines.join('\n')}\n`;
}

/** Statistics reads for the biggest province, district and a ward, through the API, the data layer and against `/healthz`. */
export async function benchStatistics(api: ApiHarness, client: HttpClient, token: string, times: number): Promise<Comparison[]> {
  const out: Comparison[] = [];
  for (const type of ['province', 'district', 'ward']) {
    const node = await api.db.app.oneFirst(sql.type(z.object({ id: z.string() }))`
      SELECT g.id FROM geography_nodes g WHERE g.type = ${type}::geography_type
      ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
    out.push(await compare(client, type, times, `/api/statistics/geography/${node}`, token,
      () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => readStatistics(tx, node))));
  }
  return out;
}

/** The rows of one comparison table: the three latencies, then the API's overhead against its goal. */
export function comparisonMarkdown(title: string, first: string, rows: readonly Comparison[]): string[] {
  const lines = ['', `### ${title}`, '', `| ${first} | via | n | p50 ms | p95 ms | p99 ms | API overhead at p95 ms (goal ≤ ${OVERHEAD_GOAL_MS}) |`, '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    const mark = row.overheadP95 <= OVERHEAD_GOAL_MS ? `${row.overheadP95}` : `**${row.overheadP95}**`;
    lines.push(`${latencyRow(`${row.name} | API`, row.api)} ${mark} |`, `${latencyRow(`${row.name} | SQL`, row.sql)} |`, `${latencyRow(`${row.name} | /healthz`, row.healthz)} |`);
  }
  lines.push('', `Worst API p95: **${Math.max(...rows.map((r) => r.api.p95)).toFixed(1)} ms**; worst API overhead at p95 (API − SQL − /healthz): **${Math.max(...rows.map((r) => r.overheadP95))} ms**; worst API/SQL p95 ratio: **${Math.max(...rows.map((r) => r.ratioP95))}**.`);
  return lines;
}
