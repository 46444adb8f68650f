import os from 'node:os';

/** What the numbers were measured on: they only mean something next to this. */
export function describeMachine(postgresVersion: string): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: postgresVersion,
    loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}
