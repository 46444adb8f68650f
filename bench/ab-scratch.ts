// Scratch (not committed): the API of the base commit and of this branch, side by side in one process, requests alternating.
import type { Server } from 'node:http';
import { sql } from 'slonik';
import { z } from 'zod';
import { startApiHarness } from '../test/support/api-harness.ts';
import { startTestServers } from '../test/support/servers.ts';
import { importSynthetic, loadGeography } from './sections/scale-data.ts';
import { probes } from './sections/search.ts';
import { HttpClient } from './support/http-client.ts';
import { summarize } from './support/stats.ts';
import { withTenant } from '../src/db/tenant-context.ts';
import { searchMembers } from '../src/members/member-queries.ts';
import { readStatistics } from '../src/statistics/member-statistics.ts';

const times = Number(process.argv[2] ?? 100);
const servers = await startTestServers(true);
Object.assign(process.env, servers.env);
const api = await startApiHarness({ paymentWindowMs: 3_600_000 });
await loadGeography(api);
await importSynthetic(api, 2000, 1);
await api.db.owner.query(sql.unsafe`VACUUM ANALYZE members`);
const base = await import('/tmp/apiperf-base/api/app.ts') as typeof import('../api/app.ts');
const basePoolMod = await import('/tmp/apiperf-base/src/db/pool.ts') as typeof import('../src/db/pool.ts');
const basePool = await basePoolMod.createDatabasePool(api.db.appUrl, { maximumPoolSize: 10 });
const server: Server = base.createApp({ ...api.apiDeps, pool: basePool }).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const addr = server.address();
const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
const clientNew = new HttpClient(api.baseUrl);
const clientBase = new HttpClient(baseUrl);
const { token } = await api.userWithToken({ roles: ['tenant_admin'] });
const ward = await api.db.app.oneFirst(sql.type(z.object({ id: z.string() }))`SELECT g.id FROM geography_nodes g WHERE g.type = 'district' ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
const all = [...(await probes(api, token)).map((p) => ({ name: p.name, path: `/api/members?${p.query}&page[size]=25`, viaSql: () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => searchMembers(tx, { ...p.search, limit: 26 })) })),
  { name: 'statistics district', path: `/api/statistics/geography/${ward}`, viaSql: () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => readStatistics(tx, ward)) }];
const f = (x: number) => x.toFixed(2).padStart(6);
console.log(`| query | base API p50/p95 | new API p50/p95 | SQL p50/p95 | /healthz p50/p95 | base overhead p95 | new overhead p95 |`);
for (const probe of all) {
  const s = { base: [] as number[], fresh: [] as number[], sql: [] as number[], hz: [] as number[] };
  for (let i = 0; i < times + 3; i++) {
    const order = i % 2 === 0;
    const a = await (order ? clientBase : clientNew).get(probe.path, token);
    const b = await (order ? clientNew : clientBase).get(probe.path, token);
    if (a.status !== 200 || b.status !== 200) throw new Error(`${probe.name} ${a.status} ${b.status} ${a.body ?? ''} ${b.body ?? ''}`);
    const t0 = performance.now(); await probe.viaSql(); const sqlMs = performance.now() - t0;
    const h = await (order ? clientNew : clientBase).get('/healthz');
    if (i < 3) continue;
    s.base.push(order ? a.ms : b.ms); s.fresh.push(order ? b.ms : a.ms); s.sql.push(sqlMs); s.hz.push(h.ms);
  }
  const [B, N, S, H] = [summarize(s.base), summarize(s.fresh), summarize(s.sql), summarize(s.hz)];
  console.log(`| ${probe.name} | ${f(B.p50)} / ${f(B.p95)} | ${f(N.p50)} / ${f(N.p95)} | ${f(S.p50)} / ${f(S.p95)} | ${f(H.p50)} / ${f(H.p95)} | ${f(B.p95 - S.p95 - H.p95)} | ${f(N.p95 - S.p95 - H.p95)} |`);
}
await clientNew.close(); await clientBase.close();
server.close(); await basePool.end();
await api.stop(); await servers.stop();
