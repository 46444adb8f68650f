import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PostgresServer } from '../../src/dev/postgres-server.ts';
import { clusterSettings, parseSettingOverrides } from '../../src/dev/postgres-settings.ts';
import { bootstrapDatabase } from '../../src/db/bootstrap.ts';
import { migrate } from '../../src/db/migrate.ts';
import { findTemporalCli } from '../../src/temporal/cli-binary.ts';
import { memberSearchAttributes } from '../../src/temporal/search-attributes.ts';
import { projectRoot } from '../../src/paths.ts';
import { loadConfig, toolSearchPaths } from '../../src/config.ts';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/payload-codec.ts';
import { WORKFLOW_TRACING_INTERCEPTORS } from '../../src/temporal/tracing-interceptors.ts';

export const TEMPLATE_DATABASE = 'sadasya_test_template';

/** What global setup hands the test files, through the environment. */
export interface TestServersEnv {
  TEST_PG_SUPERUSER_URL: string;
  TEST_PG_OWNER_PASSWORD: string;
  TEST_PG_APP_PASSWORD: string;
  TEST_TEMPORAL_ADDRESS: string;
  /** The dev server's Web UI, for browser tests of what ops see. */
  TEST_TEMPORAL_UI_URL: string;
  TEST_WORKFLOW_BUNDLE: string;
  TEST_TMP_DIR: string;
}

export interface TestServers {
  env: TestServersEnv;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startPostgres(tmp: string): Promise<{ server: PostgresServer; ownerPassword: string; appPassword: string }> {
  const server = new PostgresServer({
    dataDir: path.join(tmp, 'postgres'),
    port: await freePort(),
    superuserPassword: randomBytes(12).toString('hex'),
    settings: clusterSettings(undefined, parseSettingOverrides(loadConfig().POSTGRES_SETTINGS)),
  });
  await server.start();
  const ownerPassword = randomBytes(12).toString('hex');
  const appPassword = randomBytes(12).toString('hex');
  const urls = await bootstrapDatabase(server.superuserUrl, { database: TEMPLATE_DATABASE, ownerPassword, appPassword });
  await migrate(urls.ownerUrl);
  return { server, ownerPassword, appPassword };
}

async function startTemporal(): Promise<{ env: TestWorkflowEnvironment; uiUrl: string }> {
  const executable = findTemporalCli({
    explicitPath: loadConfig().TEMPORAL_CLI_PATH,
    ...toolSearchPaths(),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable, ip: '127.0.0.1', ui: true, uiPort, searchAttributes: memberSearchAttributes },
  });
  return { env, uiUrl: `http://127.0.0.1:${uiPort}` };
}

async function bundleWorkflows(tmp: string): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    // As the production bundle (src/temporal/build-workflow-bundle.ts): the OpenTelemetry workflow interceptors.
    workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS],
    logger: undefined,
  });
  const file = path.join(tmp, 'workflow-bundle.js');
  await writeFile(file, bundle.code);
  return file;
}

/** Starts a throwaway Postgres cluster and Temporal dev server, and bundles the workflows once. */
export async function startTestServers(withServers: boolean): Promise<TestServers> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'sadasya-test-'));
  // Traversable, so Postgres (run as its own user under root) keeps its cluster in here.
  await chmod(tmp, 0o755);
  if (!withServers) {
    return { env: { TEST_TMP_DIR: tmp } as TestServersEnv, stop: () => rm(tmp, { recursive: true, force: true }) };
  }
  const [pg, temporal, bundle] = await Promise.all([startPostgres(tmp), startTemporal(), bundleWorkflows(tmp)]);
  return {
    env: {
      TEST_PG_SUPERUSER_URL: pg.server.superuserUrl,
      TEST_PG_OWNER_PASSWORD: pg.ownerPassword,
      TEST_PG_APP_PASSWORD: pg.appPassword,
      TEST_TEMPORAL_ADDRESS: temporal.env.address,
      TEST_TEMPORAL_UI_URL: temporal.uiUrl,
      TEST_WORKFLOW_BUNDLE: bundle,
      TEST_TMP_DIR: tmp,
    },
    async stop() {
      await Promise.allSettled([temporal.env.teardown(), pg.server.stop()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
