import { readFile } from 'node:fs/promises';

const MIB = 1024 * 1024;

async function statusField(pid: number, field: string): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const match = status?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return match ? (Number(match[1]) * 1024) / MIB : undefined;
}

/** A process's resident memory now (VmRSS), in MiB; undefined once it is gone. */
export const residentMiB = (pid: number): Promise<number | undefined> => statusField(pid, 'VmRSS');

async function children(pid: number): Promise<number[]> {
  const list = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return list.split(' ').filter(Boolean).map(Number);
}

async function pss(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const match = rollup.match(/^Pss:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * The proportional set size of a process and all its descendants, in MiB: each shared page
 * counted once, split among the processes that map it. For Postgres this is the cluster's real
 * footprint; the sum of its processes' RSS would count shared_buffers once per backend.
 */
export async function treeProportionalMiB(rootPid: number): Promise<number> {
  let total = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    total += await pss(pid);
    pending.push(...await children(pid));
  }
  return total / MIB;
}

/** The postmaster's pid, from postmaster.pid in the cluster's data directory. */
export async function postmasterPid(dataDir: string): Promise<number> {
  const first = (await readFile(`${dataDir}/postmaster.pid`, 'utf8')).split('\n')[0];
  const pid = Number(first);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${dataDir}/postmaster.pid`);
  return pid;
}

/** Samples one reading (MiB) every `intervalMs` until stopped: its peak, and the samples with their time since the start. */
export class MemorySampler {
  readonly samples: Array<{ atMs: number; mib: number }> = [];
  readonly #read: () => Promise<number | undefined>;
  readonly #start = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();

  constructor(read: () => Promise<number | undefined>, intervalMs = 250) {
    this.#read = read;
    const sample = () => {
      this.#reading = this.#read().then((mib) => {
        if (mib !== undefined) this.samples.push({ atMs: performance.now() - this.#start, mib });
      });
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  get peak(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.mib), 0);
  }

  /** The last reading. */
  get last(): number {
    return this.samples.at(-1)?.mib ?? 0;
  }

  /** The peak over the samples taken from `fromMs` to `toMs` after the start. */
  peakBetween(fromMs: number, toMs: number): number {
    return this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs).reduce((max, s) => Math.max(max, s.mib), 0);
  }

  async stop(): Promise<this> {
    clearInterval(this.#timer);
    await this.#reading;
    return this;
  }
}
