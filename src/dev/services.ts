import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Config } from '../config.ts';
import { toolSearchPaths } from '../config.ts';
import { bootstrapDatabase, type DatabaseUrls } from '../db/bootstrap.ts';
import { findTemporalCli } from '../temporal/cli-binary.ts';
import { memberSearchAttributes } from '../temporal/search-attributes.ts';
import type { DevSecrets } from './dev-secrets.ts';
import { startMailCatcher } from './mail-catcher.ts';
import { PostgresServer } from './postgres-server.ts';
import { clusterSettings, parseSettingOverrides } from './postgres-settings.ts';
import { StartRefusal } from './start-refusal.ts';

export type Stop = () => Promise<void>;
export interface Started<T> {
  value: T;
  /** Absent when the service was given (an external URL) rather than started here. */
  stop?: Stop;
}

export const DEV_DATABASE = 'sadasya';

/** Embedded Postgres under the data directory, unless DATABASE_URL points elsewhere. */
export async function provideDatabase(settings: Config, secrets: DevSecrets, log: (line: string) => void): Promise<Started<DatabaseUrls>> {
  if (settings.DATABASE_URL) {
    if (!settings.DATABASE_OWNER_URL) throw new Error('DATABASE_URL is set: set DATABASE_OWNER_URL too, for migrations');
    return { value: { appUrl: settings.DATABASE_URL, ownerUrl: settings.DATABASE_OWNER_URL } };
  }
  const dataDir = path.join(settings.DATA_DIR, 'postgres');
  const server = new PostgresServer({
    dataDir, port: settings.POSTGRES_PORT, superuserPassword: secrets.superuserPassword, onNotice: log,
    settings: clusterSettings(undefined, parseSettingOverrides(settings.POSTGRES_SETTINGS)),
  });
  await server.start();
  log(`postgres  listening on 127.0.0.1:${settings.POSTGRES_PORT} (data in ${dataDir})`);
  try {
    const urls = await bootstrapDatabase(server.superuserUrl, { database: DEV_DATABASE, ownerPassword: secrets.ownerPassword, appPassword: secrets.appPassword });
    return { value: urls, stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw explainPasswordMismatch(err, dataDir, settings.DATA_DIR);
  }
}

/**
 * The cluster answers, but not to the superuser password of the data directory's
 * dev-secrets.json: the file was replaced (or the cluster copied in) after initdb.
 */
function explainPasswordMismatch(err: unknown, clusterDir: string, dataDir: string): unknown {
  if (!(err instanceof Error) || !/password authentication failed for user "postgres"/.test(err.message)) return err;
  return new StartRefusal(
    `The Postgres cluster in ${clusterDir} was made with another superuser password than ${path.join(dataDir, 'dev-secrets.json')} holds ` +
      '(that file was replaced after the cluster was created). Either put back the dev-secrets.json (and master.key) that belong to this cluster, ' +
      'or start over: npm run reset (deletes the development data: the cluster, the Temporal history, the keys), then npm start.',
    { cause: err },
  );
}

/** The codec server of `npm start`: the API's ops listener. */
export const devCodecEndpoint = (settings: Config) => `http://${settings.METRICS_HOST}:${settings.METRICS_PORT}/codec`;

/** The Temporal dev server's Web UI origin, the one the codec endpoint answers browsers from. */
export const devTemporalUiOrigin = (settings: Config) => settings.TEMPORAL_UI_ORIGIN ?? `http://127.0.0.1:${settings.TEMPORAL_UI_PORT}`;

/** The Temporal dev server with its Web UI, persisting to SQLite, unless TEMPORAL_ADDRESS is set. */
export async function provideTemporal(settings: Config, log: (line: string) => void): Promise<Started<{ address: string; uiUrl: string | null }>> {
  if (settings.TEMPORAL_ADDRESS) return { value: { address: settings.TEMPORAL_ADDRESS, uiUrl: null } };
  const executable = findTemporalCli({ explicitPath: settings.TEMPORAL_CLI_PATH, ...toolSearchPaths(), log });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable,
      ip: '127.0.0.1',
      port: settings.TEMPORAL_PORT,
      ui: true,
      uiPort: settings.TEMPORAL_UI_PORT,
      dbFilename: path.join(settings.DATA_DIR, 'temporal.sqlite'),
      namespace: settings.TEMPORAL_NAMESPACE,
      searchAttributes: memberSearchAttributes,
      // The UI asks the API's ops listener to decode payloads (docs/temporal-payloads.md).
      extraArgs: ['--ui-codec-endpoint', devCodecEndpoint(settings)],
    },
  });
  log(`temporal  gRPC on ${env.address}, Web UI on http://127.0.0.1:${settings.TEMPORAL_UI_PORT} (payloads decoded by ${devCodecEndpoint(settings)})`);
  return { value: { address: env.address, uiUrl: `http://127.0.0.1:${settings.TEMPORAL_UI_PORT}` }, stop: () => env.teardown() };
}

/** A local SMTP catcher with a web inbox, unless SMTP_URL is set. */
export async function provideSmtp(settings: Config, log: (line: string) => void): Promise<Started<{ smtpUrl: string; webUrl: string | null }>> {
  if (settings.SMTP_URL) return { value: { smtpUrl: settings.SMTP_URL, webUrl: null } };
  const catcher = await startMailCatcher({ smtpPort: settings.MAIL_SMTP_PORT, webPort: settings.MAIL_UI_PORT });
  log(`mail      SMTP on ${catcher.smtpUrl}, inbox on ${catcher.webUrl}`);
  return { value: { smtpUrl: catcher.smtpUrl, webUrl: catcher.webUrl }, stop: () => catcher.stop() };
}
