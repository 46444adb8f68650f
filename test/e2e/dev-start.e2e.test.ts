import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { relocatedClusterDir } from '../../src/dev/postgres-server.ts';
import { projectRoot } from '../../src/paths.ts';
import { freePort } from '../support/servers.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

interface Run {
  child: ChildProcess;
  output: () => string;
}

let dataDir: string;
let ports: Record<string, number>;

function devEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  delete env.DATABASE_URL;
  delete env.DATABASE_OWNER_URL;
  delete env.TEMPORAL_ADDRESS;
  delete env.SMTP_URL;
  return env;
}

function start(dir = dataDir): Run {
  const child = spawn(process.execPath, [path.join(projectRoot, 'src/dev/start.ts')], { env: devEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
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

async function exitOf(run: Run): Promise<number | null> {
  if (run.child.exitCode !== null) return run.child.exitCode;
  return new Promise((resolve) => run.child.once('exit', (code) => resolve(code)));
}

/** `npm run reset` on a data directory. */
function reset(dir: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [path.join(projectRoot, 'src/dev/reset.ts')], { env: devEnv(dir), encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
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
  for (const name of ['POSTGRES_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'MAIL_SMTP_PORT', 'MAIL_UI_PORT', 'API_PORT', 'METRICS_PORT', 'GATEWAY_SIMULATOR_PORT']) ports[name] = await freePort();
});

interface DemoLogins {
  logins: Record<string, { email: string; password: string }>;
  wardId: string;
}

/** The demo block npm start prints: each login by its label's first word, and the ward to apply to. */
function printedDemo(output: string): DemoLogins {
  const logins: DemoLogins['logins'] = {};
  for (const match of output.matchAll(/^ {2}(\S[^\n]*?) +(\S+@demo\.sadasya\.local) {2}password (\S+)$/gm)) {
    logins[match[2]!.split('@')[0]!] = { email: match[2]!, password: match[3]! };
  }
  const wardId = /applications {2}with wardId ([0-9a-f-]{36}) \(Kathmandu Ward 1/.exec(output)?.[1];
  if (!wardId) throw new Error(`no demo ward printed:\n${output}`);
  return { logins, wardId };
}

type Json = { data?: { id: string; attributes: Record<string, unknown> }; errors?: unknown[] };

async function call(method: string, urlPath: string, options: { body?: unknown; token?: string } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { accept: 'application/vnd.api+json' };
  if (options.body !== undefined) headers['content-type'] = 'application/vnd.api+json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`http://127.0.0.1:${ports.API_PORT}${urlPath}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Json) : {} };
}

async function login(demo: DemoLogins, who: string): Promise<string> {
  const account = demo.logins[who];
  if (!account) throw new Error(`no login ${who} printed`);
  const res = await call('POST', '/api/auth/login', { body: { data: { type: 'sessions', attributes: { tenant: 'demo', email: account.email, password: account.password } } } });
  expect(res.status).toBe(201);
  return String(res.body.data!.attributes.token);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The invoice id of the fee mail the catcher holds for this address. */
async function invoiceMailedTo(email: string): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${ports.MAIL_UI_PORT}/api/email`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const mails = (await res.json()) as { subject?: string; to?: { address?: string }[] }[];
  const mail = mails.find((m) => m.to?.some((to) => to.address === email) && /^Membership fee invoice /.test(m.subject ?? ''));
  return mail ? /invoice ([0-9a-f-]{36})/.exec(mail.subject ?? '')?.[1] : undefined;
}

/** A newcomer with only what npm start printed: applies, the ward's head approves, the treasurer records the fee, the card is issued. */
async function newcomerJourney(demo: DemoLogins): Promise<number> {
  const started = performance.now();
  const email = `newcomer${Date.now()}@example.np`;
  const applied = await call('POST', '/api/parties/demo/applications', {
    body: { data: { type: 'applications', attributes: { fullNameEn: 'Asha Shrestha', fullNameNe: 'आशा श्रेष्ठ', gender: 'F', phone: '9841000001', email, wardId: demo.wardId, ...ELIGIBLE } } },
  });
  expect(applied.status).toBe(201);
  const memberId = applied.body.data!.id;
  const head = await login(demo, 'head.ward');
  const approved = await call('POST', `/api/members/${memberId}/approve`, { token: head, body: { data: { type: 'approvals', attributes: { note: 'welcome' } } } });
  expect(approved.status).toBe(200);
  const invoiceId = await until('the invoice mail', () => invoiceMailedTo(email));
  const treasurer = await login(demo, 'treasurer');
  const paid = await call('POST', `/api/members/${memberId}/payments`, { token: treasurer, body: { data: { type: 'payments', attributes: {
    invoiceId, amount: 10_000, currency: 'NPR', reference: `RCPT-${memberId.slice(0, 8)}`, paidAt: new Date().toISOString() } } } });
  expect(paid.status).toBe(201);
  const admin = await login(demo, 'admin');
  await until('the card', async () => ((await call('GET', `/api/members/${memberId}/card`, { token: admin })).status === 200 ? true : undefined));
  const member = await call('GET', `/api/members/${memberId}`, { token: admin });
  expect(member.body.data!.attributes).toMatchObject({ status: 'active', memberNumber: expect.stringMatching(/^DEMO-/) });
  return (performance.now() - started) / 1000;
}

/** Another newcomer pays from the status link through Khalti, the simulator npm start runs: the payment is verified with the gateway and the member activated. */
async function gatewayJourney(demo: DemoLogins): Promise<void> {
  const email = `gateway${Date.now()}@example.np`;
  const applied = await call('POST', '/api/parties/demo/applications', {
    body: { data: { type: 'applications', attributes: { fullNameEn: 'Bina Gurung', gender: 'F', phone: '9841000002', email, wardId: demo.wardId, ...ELIGIBLE } } },
  });
  expect(applied.status).toBe(201);
  const memberId = applied.body.data!.id;
  const statusLink = new URL((applied.body.data as unknown as { links: { status: string } }).links.status);
  const head = await login(demo, 'head.ward');
  expect((await call('POST', `/api/members/${memberId}/approve`, { token: head, body: { data: { type: 'approvals', attributes: {} } } })).status).toBe(200);
  await until('the invoice mail', () => invoiceMailedTo(email));
  const attempt = await call('POST', `${statusLink.pathname}/payments${statusLink.search}`, { body: { data: { type: 'payment-attempts', attributes: { gateway: 'khalti' } } } });
  expect(attempt.status).toBe(201);
  const pidx = new URL((attempt.body.data as unknown as { attributes: { redirect: { url: string } } }).attributes.redirect.url).searchParams.get('pidx')!;
  const forced = await fetch(`http://127.0.0.1:${ports.GATEWAY_SIMULATOR_PORT}/khalti/__control/transactions/${pidx}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state: 'Completed' }) });
  expect(forced.status).toBe(200);
  const back = await fetch(`http://127.0.0.1:${ports.API_PORT}/api/parties/demo/payments/khalti/return?pidx=${pidx}`, { redirect: 'manual' });
  expect(back.status).toBe(303);
  const admin = await login(demo, 'admin');
  await until('activation after the Khalti payment', async () =>
    ((await call('GET', `/api/members/${memberId}`, { token: admin })).body.data?.attributes.status === 'active' ? true : undefined));
}

test('npm start serves the API, the Temporal UI and the mail inbox, imports the geography, makes the demo party a newcomer can use at once, stops cleanly, and restarts on the same data', async () => {
  const first = start();
  const ready = await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, first);
  expect(await ready.json()).toMatchObject({ status: 'ready' });
  expect((await waitFor(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`, first, 'text/html')).status).toBe(200);
  expect((await waitFor(`http://127.0.0.1:${ports.MAIL_UI_PORT}/`, first, 'text/html')).status).toBe(200);
  expect(first.output()).toMatch(/migrations: \d+ applied, 0 already in place/);
  expect(first.output()).toMatch(/geography: imported Nepal's 7580 divisions shipped in data\/geography\/nepal/);
  expect(first.output()).toMatch(/demo party "demo" created/);
  const demo = printedDemo(first.output());
  expect(Object.keys(demo.logins).sort()).toEqual(['admin', 'head.local', 'head.ward', 'treasurer']);
  const seconds = await newcomerJourney(demo);
  process.stdout.write(`dev-start: a newcomer applied, was approved, paid and got a card in ${seconds.toFixed(1)} s\n`);
  expect(seconds).toBeLessThan(60);
  expect(first.output()).toMatch(/payment gateways: the demo party pays through the eSewa and Khalti simulators/);
  await gatewayJourney(demo);
  expect(await stop(first)).toBe(0);
  expect(leftovers()).toEqual([]);

  const second = start();
  await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, second);
  expect(second.output()).toMatch(/migrations: 0 applied, \d+ already in place/);
  expect(second.output()).toMatch(/geography: 7580 nodes already stored, shipped copy not imported/);
  expect(second.output()).toMatch(/demo party "demo" ready/);
  expect(printedDemo(second.output())).toEqual(demo);
  await login(demo, 'admin');
  expect(await stop(second)).toBe(0);
  expect(leftovers()).toEqual([]);
}, 300_000);

test('a port the stack needs is taken: npm start names it and its variable, starts nothing, and exits 1', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(ports.API_PORT, '127.0.0.1', resolve));
  try {
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'sadasya-port-'));
    const began = performance.now();
    const run = start(fresh);
    expect(await exitOf(run)).toBe(1);
    const seconds = (performance.now() - began) / 1000;
    process.stdout.write(`dev-start: a taken port refused in ${seconds.toFixed(1)} s\n`);
    expect(run.output()).toContain(`API_PORT=${ports.API_PORT} on 127.0.0.1 is already in use`);
    expect(run.output()).toMatch(/Another npm start may still be running/);
    expect(run.output()).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(fresh, 'postgres'))).toBe(false);
    expect(leftovers()).toEqual([]);
    await rm(fresh, { recursive: true, force: true });
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
}, 60_000);

test('starting over is safe: a private data directory removed by hand, replaced secrets, and npm run reset', async () => {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'sadasya-private-'));
  await chmod(parent, 0o700);
  const dir = path.join(parent, '.data');
  const link = path.join(dir, 'postgres');
  const relocated = relocatedClusterDir(link);
  const asRoot = process.getuid?.() === 0;
  try {
    const first = start(dir);
    await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, first);
    // As root in a private directory the cluster lives under /var/lib/sadasya, linked from the data directory.
    expect(lstatSync(link).isSymbolicLink()).toBe(asRoot);
    expect(await stop(first)).toBe(0);

    // rm -rf .data: the next start makes a new cluster (it used to find the old one and fail its password).
    await rm(dir, { recursive: true, force: true });
    const second = start(dir);
    await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, second);
    if (asRoot) expect(second.output()).toContain(`removed ${relocated}: the cluster of an earlier data directory at ${link}`);
    expect(second.output()).toMatch(/demo party "demo" created/);
    expect(await stop(second)).toBe(0);

    // Secrets replaced under a kept cluster: refused with what to do, not a bare authentication error.
    const secretsFile = path.join(dir, 'dev-secrets.json');
    const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
    writeFileSync(secretsFile, JSON.stringify({ ...secrets, superuserPassword: 'not-the-password-of-this-cluster' }));
    const third = start(dir);
    expect(await exitOf(third)).toBe(1);
    expect(third.output()).toMatch(/was made with another superuser password than .*dev-secrets\.json holds/);
    expect(third.output()).toContain('npm run reset');
    expect(leftovers()).toEqual([]);

    const cleared = reset(dir);
    expect(cleared.status).toBe(0);
    expect(cleared.output).toContain(`removed ${dir}`);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(path.dirname(relocated))).toBe(false);

    const fourth = start(dir);
    await waitFor(`http://127.0.0.1:${ports.API_PORT}/readyz`, fourth);
    expect(fourth.output()).toMatch(/geography: imported Nepal's 7580 divisions/);
    // npm run reset refuses while the stack runs.
    const refused = reset(dir);
    expect(refused.status).toBe(1);
    expect(refused.output).toMatch(/npm start is still running on .* \(Postgres pid \d+\): stop it with Ctrl-C, then npm run reset/);
    expect(existsSync(dir)).toBe(true);
    expect(await stop(fourth)).toBe(0);
    expect(leftovers()).toEqual([]);
    expect(reset(dir).status).toBe(0);
    expect(existsSync(path.dirname(relocated))).toBe(false);
  } finally {
    reset(dir);
    await rm(parent, { recursive: true, force: true });
  }
}, 400_000);
