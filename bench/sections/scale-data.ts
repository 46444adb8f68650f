import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { importGeography } from '../../src/geography/import.ts';
import { parseJsonLayout } from '../../src/geography/json-layout.ts';
import { importMembers } from '../../src/imports/member-import.ts';
import { writeSyntheticMembers } from '../../src/imports/synthetic-members.ts';
import { loadActiveWards } from '../../src/imports/wards.ts';
import { projectRoot } from '../../src/paths.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { ratio, round } from '../support/stats.ts';

const NEPAL = path.join(projectRoot, '..', 'shared', 'data', 'nepal-geography');

/** Nepal's real hierarchy when ../shared/data is present (the harness always has a small one). */
export async function loadGeography(api: ApiHarness): Promise<string> {
  if (!existsSync(NEPAL)) return 'synthetic test hierarchy (../shared/data absent)';
  await importGeography(api.db.owner, await parseJsonLayout(NEPAL));
  return 'Nepal: 7 provinces, 77 districts, 753 local levels, 6,743 wards';
}

/** Raw COPY of the same CSV into an unlogged text table: the floor for any import. */
async function rawCopy(ownerUrl: string, file: string): Promise<number> {
  const client = new pg.Client(ownerUrl);
  await client.connect();
  try {
    const header = (await readFile(file, 'utf8')).split('\n', 1)[0]!.split(',');
    await client.query(`CREATE UNLOGGED TABLE IF NOT EXISTS bench_raw_copy (${header.map((c) => `${pg.escapeIdentifier(c)} text`).join(', ')}); TRUNCATE bench_raw_copy`);
    const start = performance.now();
    await pipeline(Readable.from([await readFile(file)]), client.query(copyFrom('COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)')));
    const ms = performance.now() - start;
    await client.query('DROP TABLE bench_raw_copy');
    return ms;
  } finally {
    await client.end();
  }
}

/**
 * The fair floor of an import: COPY (binary) of the rows the import wrote, sealed as they are,
 * into a logged copy of members with the same indexes and no triggers, policies or foreign
 * keys, as the owner, in one stream. What the import adds beyond this is its events, audit
 * rows, statistics, terms and checks.
 */
async function fairFloor(ownerUrl: string, tenantId: string, importId: string, file: string): Promise<number> {
  const client = new pg.Client(ownerUrl);
  await client.connect();
  try {
    // The owner is under the members policy too (FORCE): the import's party, for this session.
    await client.query(`SELECT set_config('app.tenant_id', $1, false)`, [tenantId]);
    await client.query('DROP TABLE IF EXISTS bench_fair_floor; CREATE TABLE bench_fair_floor (LIKE members INCLUDING ALL)');
    // The stored columns; the generated ones (the search keys of the path) are computed on the way in, as for the import.
    const { rows: [stored] } = await client.query<{ columns: string }>(`
      SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS columns FROM pg_attribute
      WHERE attrelid = 'members'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`);
    const columns = stored!.columns;
    await pipeline(client.query(copyTo(`COPY (SELECT ${columns} FROM members WHERE import_id = ${pg.escapeLiteral(importId)}) TO STDOUT (FORMAT binary)`)), createWriteStream(file));
    const start = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom(`COPY bench_fair_floor (${columns}) FROM STDIN (FORMAT binary)`)));
    const ms = performance.now() - start;
    await client.query('DROP TABLE bench_fair_floor');
    return ms;
  } finally {
    await client.end();
    await rm(file, { force: true });
  }
}

/** Imports `count` synthetic members with `members:import`, timed against a raw COPY of the same file. */
export async function importSynthetic(api: ApiHarness, count: number, seed: number, batchSize = 2000) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-import-'));
  const file = path.join(dir, `members-${seed}.csv`);
  // A legacy-number prefix of each file's own, so kept numbers of different files never collide.
  await writeSyntheticMembers(file, { count, seed, wards: await loadActiveWards(api.db.app), memberNumberPrefix: `BEN${String.fromCharCode(64 + seed)}` });
  const copyMs = await rawCopy(api.db.ownerUrl, file);
  const start = performance.now();
  const outcome = await importMembers(api.db.app, api.keyring, { file, tenant: api.tenant, actor: 'bench', batchSize, skipInvalid: true, now: new Date() },
    { validated: () => undefined, loading: () => undefined, batchCommitted: () => undefined });
  const importMs = performance.now() - start;
  if (outcome.kind !== 'imported') throw new Error(`bench import refused: ${JSON.stringify(outcome)}`);
  const rowsPerSecond = outcome.imported / (importMs / 1000);
  const copyRowsPerSecond = count / (copyMs / 1000);
  const floorRowsPerSecond = outcome.imported / ((await fairFloor(api.db.ownerUrl, api.tenant.id, outcome.importId, path.join(dir, 'sealed.copy'))) / 1000);
  return {
    rows: outcome.imported, batchSize, rowsPerSecond: round(rowsPerSecond, 0), rawCopyRowsPerSecond: round(copyRowsPerSecond, 0), ratio: ratio(rowsPerSecond, copyRowsPerSecond),
    fairFloorRowsPerSecond: round(floorRowsPerSecond, 0), floorRatio: ratio(rowsPerSecond, floorRowsPerSecond),
  };
}
