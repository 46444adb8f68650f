import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds spent so far, by this process and by the servers it spawned (Temporal dev server, Postgres), and by the worker processes it spawned. */
export interface CpuSnapshot {
  bench: number;
  temporal: number;
  postgres: number;
  /** Node processes this one spawned (a card worker in a process of its own): Node names its main thread MainThread. */
  workers: number;
}

const TICKS_PER_SECOND = 100;

/** Linux only (/proc); each descendant counted by its command name, exited ones not at all. */
export function cpuSnapshot(): CpuSnapshot {
  const stats = new Map<number, { parent: number; name: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces, so split after its ')'.
    const close = line.lastIndexOf(')');
    const fields = line.slice(close + 2).split(' ');
    stats.set(Number(entry), { name: line.slice(line.indexOf('(') + 1, close), parent: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND });
  }
  const descends = (pid: number): boolean => {
    for (let at = stats.get(pid)?.parent; at !== undefined && at > 1; at = stats.get(at)?.parent) if (at === process.pid) return true;
    return false;
  };
  const usage = process.cpuUsage();
  const snapshot: CpuSnapshot = { bench: (usage.user + usage.system) / 1e6, temporal: 0, postgres: 0, workers: 0 };
  for (const [pid, stat] of stats) {
    if (!descends(pid)) continue;
    if (stat.name.startsWith('temporal')) snapshot.temporal += stat.seconds;
    else if (stat.name.startsWith('postgres')) snapshot.postgres += stat.seconds;
    else if (stat.name === 'node' || stat.name === 'MainThread') snapshot.workers += stat.seconds;
  }
  return snapshot;
}

/** CPU milliseconds per item between two snapshots. */
export function cpuMsPer(before: CpuSnapshot, after: CpuSnapshot, items: number): CpuSnapshot {
  const per = (key: keyof CpuSnapshot) => Math.round(((after[key] - before[key]) * 1000) / items);
  return { bench: per('bench'), temporal: per('temporal'), postgres: per('postgres'), workers: per('workers') };
}
