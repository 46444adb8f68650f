import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { findPgClientTools } from '../../src/backup/pg-client-tools.ts';
import { loadConfig, toolSearchPaths } from '../../src/config.ts';
import { postgresRunAs } from '../../src/dev/postgres-binaries.ts';
import { PostgresServer } from '../../src/dev/postgres-server.ts';
import { freePort } from './servers.ts';

export interface Replica {
  port: number;
  /** `url` pointed at the replica (same role, password and database). */
  at(url: string): string;
  /** The replica's superuser, for pausing and resuming replay. */
  superuserUrl: string;
  stop(): Promise<void>;
}

/**
 * A streaming replica of the test cluster: `pg_basebackup -R` (the PostgreSQL 18 client tools the
 * product finds) over the replication connection initdb's pg_hba.conf allows on 127.0.0.1
 * (wal_level is replica by default), started as a hot standby on a port of its own.
 */
export async function startReplica(primarySuperuserUrl: string, tmpDir: string): Promise<Replica> {
  const primary = new URL(primarySuperuserUrl);
  const tools = await findPgClientTools({ explicitDir: loadConfig().PG_CLIENT_BIN_DIR, ...toolSearchPaths() });
  const basebackup = path.join(path.dirname(tools.pgDump), 'pg_basebackup');
  const home = mkdtempSync(path.join(tmpDir, 'replica-'));
  chmodSync(home, 0o755);
  const dataDir = path.join(home, 'postgres');
  const password = decodeURIComponent(primary.password);
  const backup = spawnSync(basebackup, ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-h', primary.hostname, '-p', primary.port, '-U', decodeURIComponent(primary.username)], {
    env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8',
  });
  if (backup.status !== 0) throw new Error(`pg_basebackup failed: ${backup.stderr || String(backup.error)}`);
  const runAs = postgresRunAs();
  if (runAs) {
    const chown = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dataDir]);
    if (chown.status !== 0) throw new Error(`chown of the replica failed: ${String(chown.stderr)}`);
  }
  const port = await freePort();
  const server = new PostgresServer({ dataDir, port, superuserPassword: password });
  await server.start();
  const at = (url: string) => {
    const u = new URL(url);
    u.port = String(port);
    return u.toString();
  };
  return { port, at, superuserUrl: at(primarySuperuserUrl), stop: () => server.stop() };
}
