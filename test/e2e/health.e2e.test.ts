import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import { createApp } from '../../api/app.ts';
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

async function serve(pool: DatabasePool, temporalAddress: string): Promise<string> {
  const connection = Connection.lazy({ address: temporalAddress });
  const app = createApp({
    pool, temporal: new Client({ connection }), namespace: 'default', log: createLogger('test', 'silent'),
    keyring: new Keyring(testMasterKey()), storage: new LocalDirectoryStorage(os.tmpdir()), tokenSecret: randomBytes(32), clock: () => new Date(),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  open.push({ server, close: () => connection.close() });
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
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

test('/readyz is 503 naming Temporal when it does not answer', async () => {
  const base = await serve(db.app, `127.0.0.1:${await freePort()}`);
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ status: 'unavailable: temporal' });
});

test('/readyz is 503 naming Postgres when its database is gone', async () => {
  const doomed = await createTestDatabase();
  const base = await serve(doomed.app, process.env.TEST_TEMPORAL_ADDRESS!);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  const superuser = new pg.Client(process.env.TEST_PG_SUPERUSER_URL);
  await superuser.connect();
  await superuser.query(`DROP DATABASE ${doomed.name} WITH (FORCE)`);
  await superuser.end();
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ status: 'unavailable: postgres' });
  await doomed.close().catch(() => undefined);
});
