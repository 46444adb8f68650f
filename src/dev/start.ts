import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { childEnvironment, config, type Config } from '../config.ts';
import { loadOrCreateDevMasterKey } from '../crypto/master-key.ts';
import { migrate } from '../db/migrate.ts';
import { createDatabasePool } from '../db/pool.ts';
import { describeShippedGeography, ensureShippedGeography } from '../geography/shipped.ts';
import { projectRoot } from '../paths.ts';
import { configuredKeyring } from '../tenants/keyring.ts';
import { describeDemo, ensureDemoParty, type DemoOutcome } from './demo-party.ts';
import { withTenant } from '../db/tenant-context.ts';
import { setGatewayAccount } from '../payments/gateway-accounts.ts';
import { ESEWA_SANDBOX_MERCHANT } from '../payments/gateways/esewa.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../payments/gateways/simulators/khalti-simulator.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../payments/gateways/simulators/gateway-simulators.ts';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';
import { assertPortsFree, portsToStart } from './ports.ts';
import { StartRefusal } from './start-refusal.ts';
import { devTemporalUiOrigin, provideDatabase, provideSmtp, provideTemporal, type Stop } from './services.ts';

const log = (line: string) => process.stdout.write(`[start] ${line}\n`);

function startChild(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [path.join(projectRoot, script)], { env, stdio: 'inherit' });
  log(`${name} started (pid ${String(child.pid)})`);
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `npm run demo` (start.ts --demo): make the demo party even when the database has other parties. */
const demoAlways = process.argv.includes('--demo');

/** The demo party on a development database (never in production). */
async function demoParty(settings: Config, appUrl: string): Promise<DemoOutcome | null> {
  if (settings.NODE_ENV === 'production') {
    if (demoAlways) throw new Error('npm run demo makes a party with printed passwords: not with NODE_ENV=production');
    return null;
  }
  const pool = await createDatabasePool(appUrl, { maximumPoolSize: 2 });
  try {
    return await ensureDemoParty(pool, configuredKeyring(settings), settings.DATA_DIR, demoAlways);
  } finally {
    await pool.end();
  }
}

/**
 * In development, the eSewa and Khalti simulators (nothing leaves the machine), and the demo
 * party's merchant accounts pointed at them, so an applicant pays from the status page.
 */
async function gatewaySimulators(settings: Config, appUrl: string, demo: DemoOutcome | null): Promise<GatewaySimulators | null> {
  if (settings.NODE_ENV === 'production') return null;
  const simulators = await startGatewaySimulators({ port: settings.GATEWAY_SIMULATOR_PORT });
  if (demo?.state === 'created' || demo?.state === 'existing') {
    const pool = await createDatabasePool(appUrl, { maximumPoolSize: 1 });
    try {
      const keyring = configuredKeyring(settings);
      await withTenant(pool, { tenantId: demo.demo.tenantId, actor: 'demo:setup' }, async (tx) => {
        await setGatewayAccount(tx, keyring, demo.demo.tenantId, { gateway: 'esewa', environment: 'simulator', baseUrl: simulators.esewaBaseUrl,
          merchantCode: ESEWA_SANDBOX_MERCHANT.productCode, secret: ESEWA_SANDBOX_MERCHANT.secretKey });
        await setGatewayAccount(tx, keyring, demo.demo.tenantId, { gateway: 'khalti', environment: 'simulator', baseUrl: simulators.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY });
      });
    } finally {
      await pool.end();
    }
  }
  return simulators;
}

/**
 * The developer's whole product on one machine: embedded Postgres, migrations, the shipped
 * geography, the Temporal dev server with its UI, a mail catcher, the worker and the API, and
 * on an empty database a demo party whose logins it prints. Ctrl-C stops everything.
 */
async function main(): Promise<void> {
  const settings = config();
  const stops: Stop[] = [];
  const children: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log(`stopping (${reason})...`);
      await Promise.all(children.map(stopChild));
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`stop failed: ${String(err)}`));
      log('stopped');
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(signal).then(() => process.exit(0)));

  try {
    await startEverything(settings, stops, children, shutdown);
  } catch (err) {
    await shutdown('start-up failed');
    throw err;
  }
}

async function startEverything(settings: Config, stops: Stop[], children: ChildProcess[], shutdown: (reason: string) => Promise<void>): Promise<void> {
  await assertPortsFree(portsToStart(settings));
  const secrets = loadOrCreateDevSecrets(settings.DATA_DIR);
  loadOrCreateDevMasterKey(settings.DATA_DIR);
  const database = await provideDatabase(settings, secrets, log);
  if (database.stop) stops.push(database.stop);
  const migrated = await migrate(database.value.ownerUrl);
  log(`migrations: ${migrated.applied.length} applied, ${migrated.skipped.length} already in place`);
  log(describeShippedGeography(await ensureShippedGeography(database.value.ownerUrl)));
  const demo = await demoParty(settings, database.value.appUrl);
  const temporal = await provideTemporal(settings, log);
  if (temporal.stop) stops.push(temporal.stop);
  const smtp = await provideSmtp(settings, log);
  if (smtp.stop) stops.push(smtp.stop);
  const gateways = await gatewaySimulators(settings, database.value.appUrl, demo);
  if (gateways) stops.push(() => gateways.close());

  const env = childEnvironment({
    DATABASE_URL: database.value.appUrl,
    DATABASE_OWNER_URL: database.value.ownerUrl,
    TEMPORAL_ADDRESS: temporal.value.address,
    SMTP_URL: smtp.value.smtpUrl,
    DATA_DIR: settings.DATA_DIR,
    AUTH_TOKEN_SECRET: settings.AUTH_TOKEN_SECRET ?? secrets.authTokenSecret,
    PLATFORM_ADMIN_KEY: settings.PLATFORM_ADMIN_KEY ?? secrets.platformAdminKey,
    TEMPORAL_UI_ORIGIN: devTemporalUiOrigin(settings),
  });
  for (const [name, script] of [['worker', 'src/worker.ts'], ['api', 'api/server.ts']] as const) {
    const child = startChild(name, script, env);
    children.push(child);
    child.once('exit', (code, signal) => void shutdown(`${name} exited with ${String(code ?? signal)}`).then(() => process.exit(code ? 1 : 0)));
  }
  const api = `http://${settings.API_HOST}:${settings.API_PORT}`;
  if (demo) log(describeDemo(demo, { api, mail: smtp.value.webUrl }).join('\n'));
  if (gateways) log(`payment gateways: the demo party pays through the eSewa and Khalti simulators at ${gateways.esewaBaseUrl} and ${gateways.khaltiBaseUrl}`);
  log(['ready:', `  API          ${api}`, `  API docs     ${api}/docs`, `  Metrics      http://${settings.METRICS_HOST}:${settings.METRICS_PORT}/metrics`, `  Temporal UI  ${temporal.value.uiUrl ?? '(external)'}`, `  Mail inbox   ${smtp.value.webUrl ?? '(external)'}`, 'Ctrl-C stops everything.'].join('\n'));
}

main().catch((err: unknown) => {
  const text = err instanceof StartRefusal ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`${text}\n`);
  process.exit(1);
});
