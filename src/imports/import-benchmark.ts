/**
 * Measures members:import on synthetic rows against a throwaway database (it creates a party
 * and leaves its members there). Run: `node src/imports/import-benchmark.ts --rows 100000
 * [--batch 2000] [--skip-full]` with DATABASE_URL, DATABASE_OWNER_URL, MASTER_KEY set and the
 * geography imported. Prints one JSON line per measurement. See docs/member-import.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { sql } from 'slonik';
import { config } from '../config.ts';
import { resolveMasterKey } from '../crypto/master-key.ts';
import { createDatabasePool, type DatabasePool } from '../db/pool.ts';
import { withTenant } from '../db/tenant-context.ts';
import { Keyring } from '../tenants/keyring.ts';
import { createTenant } from '../tenants/tenants.ts';
import { BATCH_COLUMNS, numberRows, sealRows } from './import-batch.ts';
import { openImportFile } from './import-file.ts';
import { RowChecker, type AcceptedRow } from './import-validation.ts';
import { importMembers } from './member-import.ts';
import { writeSyntheticMembers } from './synthetic-members.ts';
import { loadActiveWards } from './wards.ts';
import { dateIn } from '../terms/term-ledger.ts';

type Tuple = (string | number | Buffer | null)[];

const escapeText = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r');
const copyField = (value: Tuple[number]) =>
  value === null ? '\\N' : Buffer.isBuffer(value) ? `\\\\x${value.toString('hex')}` : escapeText(String(value));
const copyText = (tuples: readonly Tuple[]) => tuples.map((tuple) => `${tuple.map(copyField).join('\t')}\n`).join('');
const columnsDdl = BATCH_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ');
const unnestColumns = sql.join(BATCH_COLUMNS.map(([name, type]) => sql.fragment`${sql.identifier([name])} ${sql.identifier([type])}`), sql.fragment`, `);

function report(step: string, rows: number, ms: number, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ step, rows, seconds: +(ms / 1000).toFixed(2), rowsPerSecond: Math.round(rows / (ms / 1000)), ...extra })}\n`);
}

async function timed(work: () => Promise<void> | void): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** COPY of the batches into `table` over a plain pg connection (pg-copy-streams), text format. */
async function copyInto(url: string, table: string, setup: string, batches: readonly Tuple[][]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(setup);
    return await timed(async () => {
      for (const batch of batches) await pipeline(Readable.from([copyText(batch)]), client.query(copyFrom(`COPY ${table} FROM STDIN`)));
    });
  } finally {
    await client.end();
  }
}

/** The same rows through slonik's sql.unnest, on one connection held throughout (one session). */
async function unnestInto(pool: DatabasePool, batches: readonly Tuple[][]): Promise<number> {
  return pool.connect(async (connection) => {
    await connection.query(sql.unsafe`CREATE TEMP TABLE bench_unnest (${unnestColumns})`);
    return timed(async () => {
      for (const batch of batches) await connection.query(sql.unsafe`INSERT INTO bench_unnest SELECT * FROM ${sql.unnest(batch, BATCH_COLUMNS.map(([, type]) => type))}`);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, batch: { type: 'string', default: '2000' }, 'skip-full': { type: 'boolean' } } });
  const [rows, batchSize] = [Number(values.rows), Number(values.batch)];
  const settings = config();
  if (!settings.DATABASE_URL || !settings.DATABASE_OWNER_URL) throw new Error('set DATABASE_URL and DATABASE_OWNER_URL (a throwaway database)');
  const keyring = new Keyring(resolveMasterKey(settings));
  const pool = await createDatabasePool(settings.DATABASE_URL, { maximumPoolSize: 1, statementTimeoutMs: 600_000 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'import-benchmark-'));
  try {
    const slug = `bench-${randomBytes(4).toString('hex')}`;
    const tenant = await createTenant(pool, keyring, { slug, name: slug, memberNumberPrefix: 'BEN', feeSchedule: { currency: 'NPR', admissionFeeMinor: 0 } }, 'benchmark');
    const file = path.join(dir, 'members.csv');
    report('synthesize', rows, await timed(async () => writeSyntheticMembers(file, { count: rows, seed: 1, wards: await loadActiveWards(pool), memberNumberPrefix: 'BEN' })));
    const { keys, wards } = await withTenant(pool, { tenantId: tenant.id, actor: 'benchmark' }, async (tx) => ({
      keys: await keyring.forTenant(tx, tenant.id), wards: new Map((await loadActiveWards(tx)).map((w) => [w.code.toLowerCase(), w.id])),
    }));
    const opened = await openImportFile(file);
    const checker = new RowChecker({ header: opened.header, keys, wards, today: new Date().toISOString().slice(0, 10) });
    const accepted: AcceptedRow[] = [];
    report('validate (parse, zod, blind indexes)', rows, await timed(async () => {
      for await (const record of opened.records) {
        const checked = checker.check(record);
        if (checked.accepted) accepted.push(checked.accepted);
      }
    }));
    const context = { keys, importId: tenant.id, actor: 'benchmark', memberNumberPrefix: 'BEN', timeZone: tenant.timeZone, startedAt: new Date(), terms: { importDay: dateIn(tenant.timeZone, new Date()), termLengthMonths: tenant.termLengthMonths, calendar: tenant.calendar } };
    const serials = Array.from({ length: rows }, (_, index) => BigInt(index + 1));
    const batches: Tuple[][] = [];
    report('seal (AES-256-GCM per field)', rows, await timed(() => {
      for (let start = 0; start < rows; start += batchSize) {
        const slice = accepted.slice(start, start + batchSize);
        const tuples = sealRows(context, slice);
        numberRows(context, slice, tuples, serials.slice(start));
        batches.push(tuples);
      }
    }));
    const scratch = `CREATE UNLOGGED TABLE IF NOT EXISTS import_benchmark_scratch (${columnsDdl}); TRUNCATE import_benchmark_scratch`;
    report('raw COPY into an unlogged table (owner)', rows, await copyInto(settings.DATABASE_OWNER_URL, 'import_benchmark_scratch', scratch, batches));
    await copyInto(settings.DATABASE_OWNER_URL, 'import_benchmark_scratch', 'DROP TABLE import_benchmark_scratch', []);
    report('COPY into a temp table (app role)', rows, await copyInto(settings.DATABASE_URL, 'bench_copy', `CREATE TEMP TABLE bench_copy (${columnsDdl})`, batches));
    report('sql.unnest into a temp table (app role)', rows, await unnestInto(pool, batches));
    if (values['skip-full']) return;
    const request = { file, tenant, actor: 'benchmark', batchSize, skipInvalid: false, now: new Date() };
    let loadStarted = 0;
    const total = await timed(async () => {
      await importMembers(pool, keyring, request, { validated: () => (loadStarted = performance.now()), loading: () => undefined, batchCommitted: () => undefined });
    });
    report('members:import end to end', rows, total, { batch: batchSize, loadSeconds: +((performance.now() - loadStarted) / 1000).toFixed(2) });
  } finally {
    await pool.end();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
