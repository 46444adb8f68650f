import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import { createDatabasePool } from '../../../src/db/pool.ts';
import { freePort } from '../../support/servers.ts';
import { startSmtpCapture, type SmtpCapture } from '../../support/smtp-capture.ts';
import { ChildService } from './child-service.ts';
import { faultTempDir, startOwnPostgres, startOwnTemporal, type OwnPostgres, type OwnTemporal } from './own-servers.ts';
import { makeSecrets, seedParty, type Party, type Secrets } from './party.ts';
import { masterKeyFromBase64 } from '../../../src/crypto/master-key.ts';
import { EncryptionCodec, temporalDataConverter } from '../../../src/temporal/payload-codec.ts';

export const WORKER_READY = /"msg":"worker started"/;
export const API_READY = /"msg":"api listening"/;
/** The Temporal UI origin the stack's API lets call its codec endpoint (no UI runs: a browser's preflight is simulated). */
export const FAULT_STACK_UI_ORIGIN = 'http://127.0.0.1:8233';

/**
 * The whole product on servers of this test file's own: Postgres, a Temporal dev server on
 * SQLite, a real SMTP server, and the worker and API as child processes, so any of them can be
 * stopped, killed and started again without touching the shared global-setup servers.
 */
export interface FaultStack {
  dir: string;
  postgres: OwnPostgres;
  temporal: OwnTemporal;
  smtp: SmtpCapture;
  secrets: Secrets;
  worker: ChildService;
  api: ChildService;
  /** The environment the worker and API run with (another worker of the same stack takes it too). */
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  /** The API's private ops listener (metrics, readiness detail, the Temporal codec server). */
  opsUrl: string;
  /** The product's payload codec under the stack's master key (the test client's). */
  codec: EncryptionCodec;
  /** The test's own view, as the app role (RLS in force) and as the owner role. */
  db: { app: DatabasePool; owner: DatabasePool };
  client: Client;
  party: Party;
  close(): Promise<void>;
}

export async function startFaultStack(name: string, options: { logLevel?: string; workerPoolSize?: number; extraEnv?: NodeJS.ProcessEnv; apiExtraEnv?: NodeJS.ProcessEnv; workerExtraEnv?: NodeJS.ProcessEnv } = {}): Promise<FaultStack> {
  const temp = await faultTempDir(name);
  const [postgres, temporal, smtp] = await Promise.all([startOwnPostgres(temp.dir), startOwnTemporal(temp.dir), startSmtpCapture()]);
  const secrets = makeSecrets();
  const db = { app: await createDatabasePool(postgres.appUrl, { maximumPoolSize: 10 }), owner: await createDatabasePool(postgres.ownerUrl, { maximumPoolSize: 2 }) };
  const party = await seedParty(db, secrets, `${name}-party`);
  const apiPort = await freePort();
  const opsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test', LOG_LEVEL: options.logLevel ?? 'info',
    DATABASE_URL: postgres.appUrl, DATABASE_OWNER_URL: postgres.ownerUrl, DATABASE_POOL_SIZE: String(options.workerPoolSize ?? 10),
    TEMPORAL_ADDRESS: temporal.address, SMTP_URL: smtp.url, DATA_DIR: path.join(temp.dir, 'data'), STORAGE_DIR: path.join(temp.dir, 'storage'),
    MASTER_KEY: secrets.masterKeyBase64, AUTH_TOKEN_SECRET: secrets.authTokenSecret, PLATFORM_ADMIN_KEY: secrets.platformAdminKey,
    API_HOST: '127.0.0.1', API_PORT: String(apiPort),
    // A port of its own: an `npm start` or another stack on this machine may hold the default.
    METRICS_PORT: String(opsPort),
    TEMPORAL_UI_ORIGIN: FAULT_STACK_UI_ORIGIN,
    ...options.extraEnv,
  };
  const worker = new ChildService('worker', 'src/worker.ts', { ...env, ...options.workerExtraEnv });
  const api = new ChildService('api', 'api/server.ts', { ...env, ...options.apiExtraEnv });
  await Promise.all([worker.start(WORKER_READY), api.start(API_READY)]);
  // The product's codec under the stack's master key: the test reads and sends what the worker and API do.
  const codec = new EncryptionCodec(masterKeyFromBase64(secrets.masterKeyBase64));
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }), dataConverter: temporalDataConverter(codec) });
  return {
    dir: temp.dir, postgres, temporal, smtp, secrets, worker, api, env, apiUrl: `http://127.0.0.1:${apiPort}`, opsUrl: `http://127.0.0.1:${opsPort}`, codec, db, client, party,
    async close() {
      await Promise.allSettled([worker.stop(5_000), api.stop(5_000)]);
      await client.connection.close().catch(() => undefined);
      await Promise.allSettled([db.app.end(), db.owner.end(), smtp.stop()]);
      await Promise.allSettled([temporal.stop(), postgres.server.stop()]);
      await temp.remove();
    },
  };
}
