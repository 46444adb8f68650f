/**
 * `node bench/pool-reset.ts`: what the pool's reset of a connection costs, and what it costs the
 * next transaction on that connection (a search's statements: the caller, the keys, a count),
 * with slonik's DISCARD ALL against src/db/pool.ts RESET_CONNECTION, on one connection.
 */
import pg from 'pg';
import { startApiHarness } from '../test/support/api-harness.ts';
import { startTestServers } from '../test/support/servers.ts';
import { RESET_CONNECTION } from '../src/db/pool.ts';
import { summarize } from './support/stats.ts';

const servers = await startTestServers(true);
Object.assign(process.env, servers.env);
const api = await startApiHarness();
const { userId } = await api.userWithToken({ roles: ['tenant_admin'] });
const client = new pg.Client({ connectionString: api.db.appUrl });
await client.connect();
// slonik's default against the pool's own (src/db/pool.ts), alternating in rounds.
const resets: Record<string, string> = { 'DISCARD ALL': 'DISCARD ALL', RESET_CONNECTION };
const work = async () => {
  await client.query('BEGIN');
  await client.query(`SELECT a.roles, a.headships, set_config('app.actor', 'x', true) FROM caller_access($1, $2) a`, [api.tenant.id, userId]);
  await client.query('SELECT id, purpose FROM tenant_keys');
  await client.query(`SELECT count(*) FROM members m WHERE m.status = 'active'`);
  await client.query('COMMIT');
};
for (let round = 0; round < 4; round++) {
  for (const [name, reset] of Object.entries(resets)) {
    const w: number[] = [];
    const r: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await work();
      const t1 = performance.now();
      await client.query(reset);
      r.push(performance.now() - t1);
      w.push(t1 - t0);
    }
    const [ws, rs] = [summarize(w), summarize(r)];
    console.log(`round ${round} ${name.padEnd(16)} next transaction p50 ${ws.p50.toFixed(3)} p95 ${ws.p95.toFixed(3)} | reset p50 ${rs.p50.toFixed(3)} p95 ${rs.p95.toFixed(3)} ms`);
  }
}
await client.end();
await api.stop();
await servers.stop();
