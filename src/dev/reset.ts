import { existsSync, lstatSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { config, type Config } from '../config.ts';
import { relocatedClusterDir, runningPostmaster } from './postgres-server.ts';
import { StartRefusal } from './start-refusal.ts';

export interface ResetResult {
  removed: string[];
}

function clusterDirOf(dataDir: string): { cluster: string; relocated: string | null } {
  const link = path.join(dataDir, 'postgres');
  const relocated = relocatedClusterDir(link);
  try {
    if (lstatSync(link).isSymbolicLink()) return { cluster: existsSync(link) ? realpathSync(link) : relocated, relocated };
  } catch {
    // No data directory, or no cluster in it yet.
  }
  return { cluster: link, relocated: existsSync(relocated) ? relocated : null };
}

/**
 * Deletes the development data of `npm start`: the data directory (cluster or its link,
 * Temporal's SQLite history, dev secrets, master key, stored cards, demo logins) and a cluster
 * relocated under /var/lib/sadasya for it, whether or not the link to it survived.
 * @throws StartRefusal in production, or while that data's Postgres still runs.
 */
export function resetDevelopmentData(settings: Pick<Config, 'NODE_ENV' | 'DATA_DIR'>): ResetResult {
  if (settings.NODE_ENV === 'production') throw new StartRefusal('npm run reset deletes the development data: refused with NODE_ENV=production');
  const dataDir = path.resolve(settings.DATA_DIR);
  const { cluster, relocated } = clusterDirOf(dataDir);
  for (const dir of [cluster, relocated]) {
    const pid = dir === null ? null : runningPostmaster(dir);
    if (pid !== null) throw new StartRefusal(`npm start is still running on ${dataDir} (Postgres pid ${pid}): stop it with Ctrl-C, then npm run reset`);
  }
  const removed: string[] = [];
  if (relocated !== null && existsSync(path.dirname(relocated))) {
    rmSync(path.dirname(relocated), { recursive: true, force: true });
    removed.push(path.dirname(relocated));
  }
  if (existsSync(dataDir)) {
    rmSync(dataDir, { recursive: true, force: true });
    removed.push(dataDir);
  }
  return { removed };
}

function main(): void {
  try {
    const { removed } = resetDevelopmentData(config());
    const lines = removed.length > 0 ? removed.map((dir) => `  removed ${dir}`) : ['  nothing to remove'];
    process.stdout.write(`${['npm run reset: the development data is gone; npm start begins afresh (new passwords, geography, demo party)', ...lines].join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof StartRefusal ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
