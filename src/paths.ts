import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where a tool the product builds or downloads once (the Temporal CLI, pg_dump) is kept: per
 * tool and version under the user's cache directory (XDG_CACHE_HOME or ~/.cache), outside any
 * clone, so a fresh clone finds it again.
 */
export function toolCacheDir(cacheHome: string | undefined, tool: string, version: string): string {
  return path.join(cacheHome ?? path.join(os.homedir(), '.cache'), 'sadasya', tool, version);
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
