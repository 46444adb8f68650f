import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/paths.ts';
import { freePort } from '../support/servers.ts';

interface Run {
  child: ChildProcess;
  output: () => string;
}

let dataDir: string;
let ports: Record<string, number>;

function start(): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  delete env.SMTP_URL;
  const child = spawn(process.execPath, [path.join(projectRoot, 'src/dev/start.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitFor(url: string, run: Run, accept = 'application/json', timeoutMs = 120_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
    const res = await fetch(url, { headers: { accept } }).catch(() => undefined);
    if (res?.ok) return res;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 in time:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function stop(run: Run): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => run.child.once('exit', (code) => resolve(code)));
  run.child.kill('SIGINT');
  return exited;
}

/** Every process whose command line mentions the data directory (Postgres, the Temporal server) or our ports. */
function leftovers(): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout.split('\n');
  const marks = [dataDir, `--port ${ports.TEMPORAL_PORT}`, `-p ${ports.POSTGRES_PORT}`];
  return ps.filter((line) => marks.some((mark) => line.includes(mark)) && !line.includes('ps -eo'));
}

afterAll(() => rm(dataDir, { recursive: true, force: true }));

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sadasya-start-'));
  await chmod(dataDir, 0o755);
  ports = {};
  for (const name of ['POSTGRES_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'MAIL_SMTP_PORT', 'MAIL_UI_PORT', 'API_PORT', 'METRICS_PORT']) ports[name] = await freePort();
});

test('npm start serves the API, the Temporal UI and the mail inbox, stops cleanly, and restarts on the same data', async () => {
  const first = start();
  const ready = await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, first);
  expect(await ready.json()).toMatchObject({ status: 'ready' });
  expect((await waitFor(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`, first, 'text/html')).status).toBe(200);
  expect((await waitFor(`http://127.0.0.1:${ports.MAIL_UI_PORT}/`, first, 'text/html')).status).toBe(200);
  expect(first.output()).toMatch(/migrations: \d+ applied, 0 already in place/);
  expect(await stop(first)).toBe(0);
  expect(leftovers()).toEqual([]);

  const second = start();
  await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, second);
  expect(second.output()).toMatch(/migrations: 0 applied, \d+ already in place/);
  expect(await stop(second)).toBe(0);
  expect(leftovers()).toEqual([]);
}, 240_000);
