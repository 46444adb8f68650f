import pg from 'pg';
import { startApiHarness } from '../test/support/api-harness.ts';
import { startTestServers } from '../test/support/servers.ts';

const servers = await startTestServers(true);
Object.assign(process.env, servers.env);
const api = await startApiHarness();
const { token } = await api.userWithToken({ roles: ['tenant_admin'] });
const log: string[] = [];
const orig = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: unknown, ...args: any[]) {
  const q = args[0];
  log.push(String(typeof q === 'string' ? q : q?.text ?? q).replace(/\s+/g, ' ').slice(0, 110));
  return (orig as any).apply(this, args);
};
const ward = api.geo.wardIds[2];
for (const path of [`/api/members?filter[status]=active&page[size]=25`, `/api/members?filter[geography]=${ward}&page[size]=25`, `/api/statistics/geography/${ward}`, '/healthz']) {
  await api.request('GET', path, { token });
  log.length = 0;
  await api.request('GET', path, { token });
  await new Promise((r) => setTimeout(r, 100));
  console.log(`\n${path}: ${log.length} statements`);
  for (const l of log) console.log('  ', l);
}
await api.stop();
await servers.stop();
