import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { config, ConfigError } from '../../config.ts';
import { createDatabasePool } from '../../db/pool.ts';
import { GeographyCsvError, readCsvLayout } from '../../geography/csv-layout.ts';
import { importGeography, type GeographyImportResult } from '../../geography/import.ts';
import { GeographyLayoutError, parseJsonLayout } from '../../geography/json-layout.ts';
import { GeographyImportError, type GeographyNode } from '../../geography/node.ts';
import { UsageError, type CliCommand } from '../command.ts';

async function readNodes(source: string): Promise<GeographyNode[]> {
  const info = await stat(source).catch(() => undefined);
  if (info?.isDirectory()) return parseJsonLayout(source);
  if (info?.isFile() && source.toLowerCase().endsWith('.csv')) return readCsvLayout(source);
  throw new UsageError(`${source} is neither a directory of the JSON layout nor a .csv file`);
}

function report(result: GeographyImportResult, seconds: number): string {
  const rows = Object.entries(result.levels).map(
    ([type, counts]) =>
      `  ${type.padEnd(12)} ${String(counts.inserted).padStart(7)} ${String(counts.updated).padStart(7)} ${String(counts.unchanged).padStart(9)}`,
  );
  return [
    `  ${'level'.padEnd(12)} ${'inserted'.padStart(7)} ${'updated'.padStart(7)} ${'unchanged'.padStart(9)}`,
    ...rows,
    `  closure rows inserted: ${result.closureRowsInserted}`,
    `  took ${seconds.toFixed(2)} s`,
  ].join('\n');
}

async function run(args: string[]): Promise<void> {
  const [source] = args;
  if (!source || args.length > 1) throw new UsageError('Usage: npm run cli -- geography:import <directory | file.csv>');
  const url = config().DATABASE_OWNER_URL;
  if (!url) throw new ConfigError('DATABASE_OWNER_URL is not set: geography:import writes as the owner role');
  const nodes = await readNodes(source);
  const pool = await createDatabasePool(url, { maximumPoolSize: 1, statementTimeoutMs: 300_000 });
  try {
    const started = performance.now();
    const result = await importGeography(pool, nodes);
    process.stdout.write(`Imported ${nodes.length} nodes from ${source}\n${report(result, (performance.now() - started) / 1000)}\n`);
  } finally {
    await pool.end();
  }
}

export const geographyImport: CliCommand = {
  summary: 'Import a geography hierarchy (JSON layout directory or CSV file) as the owner role',
  async run(args) {
    try {
      await run(args);
    } catch (err) {
      const known = [GeographyCsvError, GeographyImportError, GeographyLayoutError, UsageError];
      if (!known.some((kind) => err instanceof kind)) throw err;
      process.stderr.write(`${(err as Error).message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    }
  },
};
