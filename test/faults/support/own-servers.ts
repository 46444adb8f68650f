import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig, toolSearchPaths } from '../../../src/config.ts';
import { bootstrapDatabase, type DatabaseUrls } from '../../../src/db/bootstrap.ts';
import { migrate } from '../../../src/db/migrate.ts';
import { PostgresServer } from '../../../src/dev/postgres-server.ts';
import { findTemporalCli } from '../../../src/temporal/cli-binary.ts';
import { memberSearchAttributes } from '../../../src/temporal/search-attributes.ts';
import { freePort } from '../../support/servers.ts';

/** A temp directory the `postgres` system user can reach (Postgres runs as that user under root). */
export async function faultTempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `sadasya-${prefix}-`));
  await chmod(dir, 0o755);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface OwnPostgres extends DatabaseUrls {
  server: PostgresServer;
  database: string;
  superuserUrl: string;
  /** The superuser's URL for this database (what db:dump and db:restore-dump connect with). */
  adminUrl: string;
  /** Drops the database (closing its connections) and makes it again from the migrated template. */
  recreate(): Promise<void>;
  /** Drops the database and makes it again empty (roles and grants, no tables), as a restore needs it. */
  recreateEmpty(): Promise<void>;
}

const TEMPLATE = 'sadasya_faults_test_template';

/** A Postgres cluster of this test file's own, which it may stop and start: one migrated database. */
export async function startOwnPostgres(dir: string, database = 'sadasya_faults_test'): Promise<OwnPostgres> {
  if (!/_test/.test(database)) throw new Error(`refusing to use database ${database}: its name does not say it is for tests`);
  const server = new PostgresServer({ dataDir: path.join(dir, 'postgres'), port: await freePort(), superuserPassword: randomBytes(12).toString('hex') });
  await server.start();
  const passwords = { ownerPassword: randomBytes(12).toString('hex'), appPassword: randomBytes(12).toString('hex') };
  await migrate((await bootstrapDatabase(server.superuserUrl, { database: TEMPLATE, ...passwords })).ownerUrl);
  const create = () => bootstrapDatabase(server.superuserUrl, { database, ...passwords, template: TEMPLATE });
  const urls = await create();
  const drop = () => asSuperuser(server.superuserUrl, (client) => client.query(`DROP DATABASE ${client.escapeIdentifier(database)} WITH (FORCE)`));
  const adminUrl = new URL(server.superuserUrl);
  adminUrl.pathname = `/${database}`;
  return {
    ...urls, server, database, superuserUrl: server.superuserUrl, adminUrl: adminUrl.toString(),
    async recreate() {
      await drop();
      await create();
    },
    async recreateEmpty() {
      await drop();
      await bootstrapDatabase(server.superuserUrl, { database, ...passwords });
    },
  };
}

export async function asSuperuser<T>(superuserUrl: string, work: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const url = new URL(superuserUrl);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface OwnTemporal {
  address: string;
  /** Stops the dev server; its workflows stay in its SQLite file. */
  stop(): Promise<void>;
  /** Starts it again on the same port and SQLite file. */
  start(): Promise<void>;
}

/** A Temporal dev server persisting to SQLite in `dir`, which the test may stop and start again. */
export async function startOwnTemporal(dir: string): Promise<OwnTemporal> {
  const executable = findTemporalCli({ explicitPath: loadConfig().TEMPORAL_CLI_PATH, ...toolSearchPaths() });
  const port = await freePort();
  const options = {
    server: { executable, ip: '127.0.0.1', port, ui: false, dbFilename: path.join(dir, 'temporal.sqlite'), searchAttributes: memberSearchAttributes },
  };
  let env: TestWorkflowEnvironment | undefined = await TestWorkflowEnvironment.createLocal(options);
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      await env?.teardown();
      env = undefined;
    },
    async start() {
      env ??= await TestWorkflowEnvironment.createLocal(options);
    },
  };
}
