import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findTemporalServer, TEMPORAL_SERVER_VERSION } from '../../src/temporal/server-binary.ts';
import { toolCacheDir } from '../../src/paths.ts';

let cacheHome: string;
beforeAll(async () => {
  cacheHome = await mkdtemp(path.join(os.tmpdir(), 'temporal-server-binary-'));
});
afterAll(() => rm(cacheHome, { recursive: true, force: true }));

/** Fills the per-version cache directory with stand-ins for the binaries and the schema files. */
async function fakeCache(): Promise<string> {
  const dir = toolCacheDir(cacheHome, 'temporal-server', TEMPORAL_SERVER_VERSION);
  await mkdir(dir, { recursive: true });
  for (const tool of ['temporal-server', 'temporal-sql-tool']) {
    await writeFile(path.join(dir, tool), '#!/bin/sh\n');
    await chmod(path.join(dir, tool), 0o755);
  }
  await mkdir(path.join(dir, 'schema', 'postgresql', 'v12'), { recursive: true });
  return dir;
}

test('a complete cache (both binaries and the Postgres schema files) is used as it is, without a build', async () => {
  const dir = await fakeCache();
  const log: string[] = [];
  expect(findTemporalServer({ cacheHome, log: (line) => log.push(line) })).toEqual({
    server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool'), schemaDir: path.join(dir, 'schema'),
  });
  expect(log).toEqual([]);
});
