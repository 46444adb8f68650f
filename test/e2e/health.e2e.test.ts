import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import { createApp } from '../../api/app.ts';
import { metricsRoutes } from '../../api/metrics.ts';
import { createOpsApp } from '../../api/ops-app.ts';
import pg from 'pg';
import { createLogger } from '../../src/logger.ts';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { LocalDirectoryStorage } from '../../src/storage/local-storage.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { testMasterKey } from '../support/fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/servers.ts';

let db: TestDatabase;
const open: { server: Server; close: () => Promise<void> }[] = [];

async function listen(app: ReturnType<typeof createApp>, close: () => Promise<void>): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  open.push({ server, close });
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** The public API and the private ops listener over the same connections; @returns the public base URL. */
async function serveBoth(pool: DatabasePool, temporalAddress: string): Promise<{ base: string; ops: string }> {
  const connection = Connection.lazy({ address: temporalAddress });
  const temporal = new Client({ connection });
  const metrics = metricsRoutes();
  const app = createApp({
    pool, temporal, namespace: 'default', log: createLogger('test', 'silent'), metrics,
    keyring: new Keyring(testMasterKey()), storage: new LocalDirectoryStorage(os.tmpdir()), tokenSecret: randomBytes(32), clock: () => new Date(),
  });
  const base = await listen(app, () => connection.close());
  const ops = await listen(createOpsApp({ pool, temporal, namespace: 'default', metrics }), () => Promise.resolve());
  return { base, ops };
}

async function serve(pool: DatabasePool, temporalAddress: string): Promise<string> {
  return (await serveBoth(pool, temporalAddress)).base;
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const { server, close } of open) {
    server.close();
    await close().catch(() => undefined);
  }
  await db.close();
});

test('/healthz answers while the process is up', async () => {
  const base = await serve(db.app, process.env.TEST_TEMPORAL_ADDRESS!);
  const res = await fetch(`${base}/healthz`);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
});

test('/readyz is 200 when Postgres and Temporal answer', async () => {
  const base = await serve(db.app, process.env.TEST_TEMPORAL_ADDRESS!);
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ status: 'ready' });
});

test('/readyz is 503 when Temporal does not answer: publicly the status word only, on the ops listener what failed and how', async () => {
  const temporalAddress = `127.0.0.1:${await freePort()}`;
  const { base, ops } = await serveBoth(db.app, temporalAddress);
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  const text = await res.text();
  expect(JSON.parse(text)).toEqual({ status: 'unavailable' });
  expect(text).not.toContain(temporalAddress.split(':')[1]);
  const detailed = await fetch(`${ops}/readyz`);
  expect(detailed.status).toBe(503);
  expect(await detailed.json()).toMatchObject({ status: 'unavailable: temporal', checks: expect.arrayContaining([{ name: 'temporal', ok: false, detail: expect.any(String) }]) });
});

test('/metrics is not on the public listener; the ops listener serves it', async () => {
  const { base, ops } = await serveBoth(db.app, process.env.TEST_TEMPORAL_ADDRESS!);
  await fetch(`${base}/healthz`);
  expect((await fetch(`${base}/metrics`)).status).toBe(404);
  const res = await fetch(`${ops}/metrics`);
  expect(res.status).toBe(200);
  expect(await res.text()).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} 1/);
});

test('/readyz is 503 naming Postgres when its database is gone', async () => {
  const doomed = await createTestDatabase();
  const { base, ops } = await serveBoth(doomed.app, process.env.TEST_TEMPORAL_ADDRESS!);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  const superuser = new pg.Client(process.env.TEST_PG_SUPERUSER_URL);
  await superuser.connect();
  await superuser.query(`DROP DATABASE ${doomed.name} WITH (FORCE)`);
  await superuser.end();
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ status: 'unavailable' });
  expect(await (await fetch(`${ops}/readyz`)).json()).toMatchObject({ status: 'unavailable: postgres' });
  await doomed.close().catch(() => undefined);
});
