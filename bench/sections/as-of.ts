import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readStatisticsAsOf, rebuildStatusHistory } from '../../src/statistics/status-history.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { ratio, summarize, timed, type Latency } from '../support/stats.ts';

export interface AsOfProbe {
  name: string;
  /** GET /api/statistics/geography/{node}?asOf=<today>: the event-derived counts. */
  asOfApi: Latency;
  asOfSql: Latency;
  /** The same request without asOf (the members-row read model): the same-run baseline. */
  currentApi: Latency;
  /** asOfApi p95 / currentApi p95. */
  ratioP95: number;
}

export interface AsOfSection {
  members: number;
  /** Days of synthetic history added to the projection before the second measurement. */
  historyDays: number;
  /** member_status_daily rows when measured with the imported members only, then with the history. */
  dailyRowsImported: number;
  dailyRowsWithHistory: number;
  imported: AsOfProbe[];
  withHistory: AsOfProbe[];
  /** stats:rebuild-history's work at this size: derive the projection from the events again. */
  rebuild: { ms: number; changes: number; dailyRows: number; differingRows: number };
}

async function sample(times: number, work: () => Promise<unknown>): Promise<Latency> {
  await work();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push((await timed(work)).ms);
  return summarize(samples);
}

const kathmanduToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kathmandu' }).format(new Date());

async function probes(api: ApiHarness, token: string, times: number, day: string): Promise<AsOfProbe[]> {
  const out: AsOfProbe[] = [];
  for (const type of ['province', 'district', 'local_level', 'ward']) {
    const node = await api.db.app.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
      SELECT g.id FROM geography_nodes g WHERE g.type::text = ${type}
      ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
    if (!node) continue;
    const asOfApi = await sample(times, () => api.request('GET', `/api/statistics/geography/${node}?asOf=${day}`, { token }));
    const asOfSql = await sample(times, () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => readStatisticsAsOf(tx, node, day)));
    const currentApi = await sample(times, () => api.request('GET', `/api/statistics/geography/${node}`, { token }));
    out.push({ name: type, asOfApi, asOfSql, currentApi, ratioP95: ratio(asOfApi.p95, currentApi.p95) });
  }
  return out;
}

const dailyRows = (api: ApiHarness) => api.db.owner.transaction(async (tx) => {
  await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${api.tenant.id}, true)`);
  return tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM member_status_daily`);
});

/**
 * As-of-date statistics over the imported members, then over a projection that also holds
 * `historyDays` of synthetic daily changes (every node above the wards changing in four statuses
 * every day, every ward in two statuses every week: the rows a node's read sums), each beside the
 * current-rows endpoint of the same run. Then stats:rebuild-history's work, which derives the
 * projection from the events again and so also removes the synthetic rows.
 */
export async function benchAsOf(api: ApiHarness, token: string, options: { times: number; historyDays: number; members: number }): Promise<AsOfSection> {
  const { times, historyDays, members } = options;
  const today = kathmanduToday();
  const dailyRowsImported = await dailyRows(api);
  const imported = await probes(api, token, times, today);
  await api.db.owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${api.tenant.id}, true)`);
    await tx.query(sql.unsafe`SET LOCAL statement_timeout = 0`);
    await tx.query(sql.unsafe`
      INSERT INTO member_status_daily (tenant_id, geography_id, day, status, delta)
      SELECT ${api.tenant.id}::uuid, g.id, ${today}::date - d, s.status, CASE WHEN d % 2 = 0 THEN 1 ELSE -1 END
      FROM geography_nodes g
      CROSS JOIN generate_series(1, ${historyDays}) AS d
      CROSS JOIN LATERAL unnest(CASE WHEN g.type = 'ward' THEN ARRAY['active', 'awaiting_approval']
                                     ELSE ARRAY['active', 'awaiting_approval', 'awaiting_payment', 'expired'] END) AS s (status)
      WHERE g.type <> 'ward' OR d % 7 = 0
      ON CONFLICT DO NOTHING`);
  });
  await api.db.owner.connect(async (connection) => {
    await connection.query(sql.unsafe`SET statement_timeout = 0`);
    await connection.query(sql.unsafe`VACUUM ANALYZE member_status_daily`);
  });
  const dailyRowsWithHistory = await dailyRows(api);
  const withHistory = await probes(api, token, times, today);
  const rebuilt = await timed(() => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => rebuildStatusHistory(tx, api.tenant.id)));
  return {
    members, historyDays, dailyRowsImported, dailyRowsWithHistory, imported, withHistory,
    rebuild: { ms: Math.round(rebuilt.ms), changes: rebuilt.value.changes, dailyRows: rebuilt.value.dailyRows, differingRows: rebuilt.value.differingRows },
  };
}

export function asOfMarkdown(s: AsOfSection): string[] {
  const table = (title: string, rows: AsOfProbe[]) => [
    '', `### ${title}`, '', '| node | asOf API p50 / p95 ms | asOf SQL p95 ms | current API p95 ms (baseline) | p95 ratio |', '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${r.asOfApi.p50.toFixed(1)} / ${r.asOfApi.p95.toFixed(1)} | ${r.asOfSql.p95.toFixed(1)} | ${r.currentApi.p95.toFixed(1)} | ${r.ratioP95} |`),
  ];
  return [
    '', `## Statistics as of a date at ${s.members.toLocaleString('en')} members`, '',
    '`GET /api/statistics/geography/{node}?asOf=<today>` (counts from the event-derived projection, migrations/0025) beside the same request without `asOf` (the members-row read model), for the largest node of each level.',
    ...table(`Imported members only (${s.dailyRowsImported.toLocaleString('en')} daily rows)`, s.imported),
    ...table(`With ${s.historyDays} days of synthetic history (${s.dailyRowsWithHistory.toLocaleString('en')} daily rows)`, s.withHistory),
    '', `\`stats:rebuild-history\` at this size: **${(s.rebuild.ms / 1000).toFixed(1)} s** (${s.rebuild.changes.toLocaleString('en')} member changes, ${s.rebuild.dailyRows.toLocaleString('en')} daily rows; ${s.rebuild.differingRows.toLocaleString('en')} rows differed from the projection it replaced: the synthetic history).`,
  ];
}
