import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isExecutable, toolCacheDir } from '../paths.ts';
import { goAvailable, goInstall, goModuleDir } from './go-install.ts';

/**
 * The Temporal server docker-compose.yml runs (temporalio/server and temporalio/admin-tools at
 * TEMPORAL_VERSION): its compose test runs the same release, built from the Go module.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.30.1';
const MODULE = `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`;

/** The parts of the temporalio/server and admin-tools images the compose test needs, under the images' names. */
export interface TemporalServerTools {
  /** `temporal-server` (the server image's binary). */
  server: string;
  /** `temporal-sql-tool` (admin-tools). */
  sqlTool: string;
  /** What admin-tools ships as /etc/temporal/schema (the module's schema directory). */
  schemaDir: string;
}

function toolsIn(dir: string): TemporalServerTools {
  return { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool'), schemaDir: path.join(dir, 'schema') };
}

function complete(tools: TemporalServerTools): boolean {
  return isExecutable(tools.server) && isExecutable(tools.sqlTool) && existsSync(path.join(tools.schemaDir, 'postgresql', 'v12'));
}

/** Makes a copied tree writable by its owner again (the module cache's files are read-only), so the cache can be deleted. */
function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(child);
    else chmodSync(child, 0o644);
  }
}

/**
 * Finds the Temporal server, temporal-sql-tool and the schema files in the per-version cache
 * outside the clone (XDG_CACHE_HOME or ~/.cache), building them with `go install` from the Go
 * module proxy on first use (a few minutes, once). Concurrent first uses each build into their
 * own directory; the first to finish is kept.
 * @throws Error saying what to do next when there is no Go toolchain or the build fails.
 */
export function findTemporalServer(options: { cacheHome?: string | undefined; log?: (line: string) => void } = {}): TemporalServerTools {
  const dir = toolCacheDir(options.cacheHome, 'temporal-server', TEMPORAL_SERVER_VERSION);
  const tools = toolsIn(dir);
  if (complete(tools)) return tools;
  if (!goAvailable()) throw new Error(`The Temporal server ${TEMPORAL_SERVER_VERSION} is not in ${dir} and there is no Go toolchain to build it: install Go (https://go.dev/dl/).`);
  (options.log ?? (() => undefined))(`Building the Temporal server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} with Go into ${dir} (once; takes a few minutes)...`);
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  try {
    const bin = path.join(partial, 'bin');
    goInstall([`go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], bin, 'or run the stack with Docker Compose instead.');
    const staged = toolsIn(partial);
    renameSync(path.join(bin, 'server'), staged.server);
    renameSync(path.join(bin, 'sql'), staged.sqlTool);
    cpSync(path.join(goModuleDir(MODULE), 'schema'), staged.schemaDir, { recursive: true });
    makeWritable(staged.schemaDir);
    rmSync(bin, { recursive: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    if (existsSync(dir) && !complete(tools)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(partial, dir);
    } catch (err) {
      // Another build finished first (or an incomplete directory is in the way): keep a complete one.
      if (!complete(tools)) throw err;
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return tools;
}
