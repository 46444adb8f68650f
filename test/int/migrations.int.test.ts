import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { bootstrapDatabase } from '../../src/db/bootstrap.ts';
import { migrate, MigrationChecksumError } from '../../src/db/migrate.ts';

let dir: string;
let ownerUrl: string;

async function query<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client(ownerUrl);
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'migrations-'));
  ({ ownerUrl } = await bootstrapDatabase(process.env.TEST_PG_SUPERUSER_URL!, {
    database: `sadasya_test_mig_${randomBytes(4).toString('hex')}`,
    ownerPassword: process.env.TEST_PG_OWNER_PASSWORD!,
    appPassword: process.env.TEST_PG_APP_PASSWORD!,
  }));
  await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);');
  await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE b (id int); INSERT INTO a VALUES (1);');
});

test('applies in name order, each once, recorded with a checksum', async () => {
  expect(await migrate(ownerUrl, dir)).toEqual({ applied: ['0001_a.sql', '0002_b.sql'], skipped: [] });
  expect(await migrate(ownerUrl, dir)).toEqual({ applied: [], skipped: ['0001_a.sql', '0002_b.sql'] });
  expect(await query('SELECT * FROM a')).toEqual([{ id: 1 }]);
  const recorded = await query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations ORDER BY name');
  expect(recorded.map((r) => r.name)).toEqual(['0001_a.sql', '0002_b.sql']);
  for (const row of recorded) expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
});

test('changing an applied migration is an error and applies nothing after it', async () => {
  await migrate(ownerUrl, dir);
  await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);');
  await writeFile(path.join(dir, '0003_c.sql'), 'CREATE TABLE c (id int);');
  await expect(migrate(ownerUrl, dir)).rejects.toThrow(MigrationChecksumError);
  expect(await query("SELECT to_regclass('c') AS c")).toEqual([{ c: null }]);
});

test('a failing migration rolls back whole and is not recorded', async () => {
  await writeFile(path.join(dir, '0003_bad.sql'), 'CREATE TABLE c (id int); SELECT no_such_function();');
  await expect(migrate(ownerUrl, dir)).rejects.toThrow(/0003_bad.sql failed/);
  expect(await query("SELECT to_regclass('c') AS c")).toEqual([{ c: null }]);
  expect(await query('SELECT name FROM schema_migrations ORDER BY name')).toEqual([{ name: '0001_a.sql' }, { name: '0002_b.sql' }]);
});

test('when several processes start at once, only one migrates', async () => {
  await writeFile(path.join(dir, '0003_slow.sql'), 'SELECT pg_sleep(0.3); CREATE TABLE c (id int);');
  const results = await Promise.all(Array.from({ length: 4 }, () => migrate(ownerUrl, dir)));
  expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
  expect(results.flatMap((r) => r.applied).sort()).toEqual(['0001_a.sql', '0002_b.sql', '0003_slow.sql']);
});
