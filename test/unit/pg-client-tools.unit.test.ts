import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cachedToolsDir, findPgClientTools } from '../../src/backup/pg-client-tools.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pg-client-tools-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A directory with stand-in pg_dump and pg_restore scripts that report `version`. */
async function fakeTools(name: string, version: string): Promise<string> {
  const bin = path.join(dir, name);
  await mkdir(bin, { recursive: true });
  for (const tool of ['pg_dump', 'pg_restore']) {
    const file = path.join(bin, tool);
    await writeFile(file, `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`);
    await chmod(file, 0o755);
  }
  return bin;
}

test('PG_CLIENT_BIN_DIR is used when its tools are PostgreSQL 18 or newer', async () => {
  const bin = await fakeTools('v18', '18.6');
  expect(await findPgClientTools({ explicitDir: bin })).toEqual({ pgDump: path.join(bin, 'pg_dump'), pgRestore: path.join(bin, 'pg_restore') });
});

test('PG_CLIENT_BIN_DIR with older tools, or none, is refused by name', async () => {
  const old = await fakeTools('v15', '15.18');
  await expect(findPgClientTools({ explicitDir: old })).rejects.toThrow(`PG_CLIENT_BIN_DIR=${old} does not hold pg_dump and pg_restore 18 or newer`);
  await expect(findPgClientTools({ explicitDir: path.join(dir, 'missing') })).rejects.toThrow(/PG_CLIENT_BIN_DIR=.*missing/);
});

test('on the PATH, an older pg_dump is passed over for a newer one further on', async () => {
  const old = await fakeTools('path-old', '15.18');
  const fresh = await fakeTools('path-new', '18.1');
  const found = await findPgClientTools({ searchPath: [old, fresh].join(path.delimiter), cacheHome: path.join(dir, 'unused-cache') });
  expect(found.pgDump).toBe(path.join(fresh, 'pg_dump'));
});

test('the cache is per version, under the user cache directory', () => {
  expect(cachedToolsDir('/home/x/.cache')).toBe('/home/x/.cache/sadasya/pg-client/18.6.3');
});
