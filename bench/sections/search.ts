import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { memberSearchQuery, searchMembers, type MemberSearch } from '../../src/members/member-queries.ts';
import { blindIndex } from '../../src/members/personal-data.ts';
import { readStatistics } from '../../src/statistics/member-statistics.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { latencyRow, ratio, summarize, type Latency } from '../support/stats.ts';

interface Probe {
  name: string;
  query: string;
  search: Omit<MemberSearch, 'limit'>;
}

async function sample(times: number, work: () => Promise<unknown>): Promise<Latency> {
  const ms: number[] = [];
  await work();
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await work();
    ms.push(performance.now() - start);
  }
  return summarize(ms);
}

const Node = z.object({ id: z.string(), path: z.string() });

/** Every filter the search API offers, alone and combined, on the party's own data. */
async function probes(api: ApiHarness, token: string): Promise<Probe[]> {
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

/** Search through the API against the same query through the data layer (no HTTP, auth or JSON). */
export async function benchSearch(api: ApiHarness, token: string, times: number) {
  const rows = [];
  for (const probe of await probes(api, token)) {
    const viaApi = await sample(times, async () => {
      const res = await api.request('GET', `/api/members?${probe.query}&page[size]=25`, { token });
      if (res.status !== 200) throw new Error(`${probe.name}: ${res.status} ${JSON.stringify(res.body)}`);
    });
    const viaSql = await sample(times, () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => searchMembers(tx, { ...probe.search, limit: 26 })));
    rows.push({ name: probe.name, api: viaApi, sql: viaSql, ratioP95: ratio(viaApi.p95, viaSql.p95) });
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

/** Statistics reads for the biggest province, district and a ward, through the API. */
export async function benchStatistics(api: ApiHarness, token: string, times: number) {
  const out: { name: string; api: Latency; sql: Latency }[] = [];
  for (const type of ['province', 'district', 'ward']) {
    const node = await api.db.app.oneFirst(sql.type(z.object({ id: z.string() }))`
      SELECT g.id FROM geography_nodes g WHERE g.type = ${type}::geography_type
      ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
    out.push({
      name: type,
      api: await sample(times, () => api.request('GET', `/api/statistics/geography/${node}`, { token })),
      sql: await sample(times, () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => readStatistics(tx, node))),
    });
  }
  return out;
}

export function searchMarkdown(title: string, rows: Awaited<ReturnType<typeof benchSearch>>): string[] {
  const lines = ['', `### ${title}`, '', '| query | via | n | p50 ms | p95 ms | p99 ms |', '| --- | --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    lines.push(latencyRow(`${row.name} | API`, row.api), latencyRow(`${row.name} | SQL`, row.sql));
  }
  lines.push('', `Worst API p95: **${Math.max(...rows.map((r) => r.api.p95)).toFixed(1)} ms**; worst API/SQL p95 ratio: **${Math.max(...rows.map((r) => r.ratioP95))}**.`);
  return lines;
}
