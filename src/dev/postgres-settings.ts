import os from 'node:os';

/** What the settings are sized from: the machine's memory and cores. */
export interface MachineSize {
  memoryBytes: number;
  cores: number;
}

const MiB = 1024 * 1024;
const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
const mb = (bytes: number) => `${Math.floor(bytes / MiB)}MB`;

/**
 * The settings the embedded cluster (npm start, the tests, the benchmark) runs with, sized for
 * the machine instead of Postgres' defaults (128 MB shared_buffers, 1 GB max_wal_size, a
 * checkpoint every 5 minutes), which a bulk import outgrows within seconds: every checkpoint
 * writes full pages to the WAL again. README.md (Configuration) lists them; `overrides` (from
 * POSTGRES_SETTINGS) win over every one.
 */
export function clusterSettings(machine: MachineSize = { memoryBytes: os.totalmem(), cores: os.availableParallelism() }, overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  const memory = machine.memoryBytes;
  return {
    // An eighth of the memory, between the default and 2 GB: the cluster shares the machine
    // with the API, the worker and Temporal (and, under test, with other clusters).
    shared_buffers: mb(clamp(memory / 8, 128 * MiB, 2048 * MiB)),
    effective_cache_size: mb(clamp(memory / 2, 512 * MiB, 16384 * MiB)),
    maintenance_work_mem: mb(clamp(memory / 32, 64 * MiB, 1024 * MiB)),
    work_mem: '16MB',
    wal_buffers: '64MB',
    max_wal_size: '8GB',
    min_wal_size: '1GB',
    checkpoint_timeout: '15min',
    checkpoint_completion_target: '0.9',
    max_parallel_workers_per_gather: String(Math.max(1, Math.floor(machine.cores / 2))),
    ...overrides,
  };
}

/** POSTGRES_SETTINGS (checked by src/config.ts): `name=value` pairs separated by commas. */
export function parseSettingOverrides(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  return Object.fromEntries(text.split(',').map((pair) => {
    const at = pair.indexOf('=');
    return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
  }));
}

/** The settings as the postgres command line's `-c name=value` arguments. */
export function settingArguments(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}
