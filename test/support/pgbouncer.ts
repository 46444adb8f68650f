import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { postgresRunAs } from '../../src/dev/postgres-binaries.ts';
import { freePort } from './servers.ts';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncerOptions {
  /** The Postgres PgBouncer forwards to. */
  host: string;
  port: number;
  database: string;
  /** The users it lets in, each with its SCRAM secret from pg_authid (what docs/database-pooling.md tells operators to use). */
  users: { name: string; scramSecret: string }[];
  defaultPoolSize: number;
  tmpDir: string;
}

export interface PgBouncer {
  port: number;
  /** `url` with its host and port replaced by PgBouncer's. */
  through(url: string): string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A real PgBouncer (Debian's package) in transaction mode, with the settings
 * docs/database-pooling.md gives operators. As root it runs as the postgres user: PgBouncer
 * refuses to run as root.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const runAs = postgresRunAs();
  const dir = mkdtempSync(path.join(options.tmpDir, 'pgbouncer-'));
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  const logfile = path.join(dir, 'pgbouncer.log');
  writeFileSync(path.join(dir, 'userlist.txt'), options.users.map((u) => `"${u.name}" "${u.scramSecret}"\n`).join(''), { mode: 0o600 });
  writeFileSync(ini, [
    '[databases]',
    `${options.database} = host=${options.host} port=${options.port} dbname=${options.database}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.defaultPoolSize}`,
    'max_client_conn = 500',
    // node-postgres sends the pool's timeouts as startup parameters, which PgBouncer cannot
    // keep per client: they come from the role instead (ALTER ROLE ... SET).
    'ignore_startup_parameters = extra_float_digits,statement_timeout,idle_in_transaction_session_timeout',
    `logfile = ${logfile}`,
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n'));
  if (runAs) for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(path.join(dir, file), runAs.uid, runAs.gid);
  const child: ChildProcess = spawn(PGBOUNCER, [ini], { ...(runAs ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
  const readLog = () => {
    try {
      return readFileSync(logfile, 'utf8');
    } catch {
      return output;
    }
  };
  await waitForPort(port, child, readLog);
  return {
    port,
    through: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    log: readLog,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    }),
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
