import { existsSync } from 'node:fs';
import path from 'node:path';
import { isExecutable, toolCacheDir } from '../paths.ts';
import { goAvailable, goInstall } from './go-install.ts';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export type TemporalExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

export interface TemporalCliSearch {
  /** TEMPORAL_CLI_PATH, when set. */
  explicitPath?: string | undefined;
  /** The PATH to search for `temporal`. */
  searchPath?: string | undefined;
  /** The user's cache directory (XDG_CACHE_HOME or ~/.cache). */
  cacheHome?: string | undefined;
  log?: (line: string) => void;
}

export function cachedCliPath(cacheHome: string | undefined): string {
  return path.join(toolCacheDir(cacheHome, 'temporal-cli', TEMPORAL_CLI_VERSION), 'temporal');
}

function onPath(searchPath: string | undefined): string | undefined {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  return undefined;
}

/**
 * Finds the Temporal CLI (which holds the dev server and the Web UI), in this order:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, the per-version cache, a `go install` into that cache,
 * and finally the Temporal SDK's own download for machines with internet but no Go.
 * @throws Error saying what to do next when TEMPORAL_CLI_PATH is wrong or the Go build fails.
 */
export function findTemporalCli(search: TemporalCliSearch): TemporalExecutable {
  const log = search.log ?? (() => undefined);
  if (search.explicitPath) {
    if (!isExecutable(search.explicitPath)) {
      throw new Error(`TEMPORAL_CLI_PATH=${search.explicitPath} is not an executable file. Point it at a Temporal CLI binary or unset it.`);
    }
    return { type: 'existing-path', path: search.explicitPath };
  }
  const fromPath = onPath(search.searchPath);
  if (fromPath) return { type: 'existing-path', path: fromPath };
  const cached = cachedCliPath(search.cacheHome);
  if (isExecutable(cached)) return { type: 'existing-path', path: cached };
  if (!goAvailable()) {
    log(`No Temporal CLI found and no Go toolchain; falling back to the Temporal SDK's download of its dev server.`);
    return { type: 'cached-download' };
  }
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${path.dirname(cached)} (once; takes a few minutes)...`);
  goInstall([GO_PACKAGE], path.dirname(cached), 'or install the Temporal CLI yourself and set TEMPORAL_CLI_PATH to it.');
  if (!existsSync(cached)) throw new Error(`"go install ${GO_PACKAGE}" left no ${cached}. Install the Temporal CLI yourself and set TEMPORAL_CLI_PATH to it.`);
  return { type: 'existing-path', path: cached };
}
