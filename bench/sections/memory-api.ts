import path from 'node:path';
import { API_READY, startFaultStack, type FaultStack } from '../../test/faults/support/fault-stack.ts';
import { ChildService } from '../../test/faults/support/child-service.ts';
import { sleep } from '../../test/faults/support/api-client.ts';
import { importGeography } from '../../src/geography/import.ts';
import { parseJsonLayout } from '../../src/geography/json-layout.ts';
import { projectRoot } from '../../src/paths.ts';
import { MemorySampler, residentMiB } from '../support/process-memory.ts';
import { latencyRow, round, summarize, type Latency } from '../support/stats.ts';
import { API_GOAL_MIB, lifecyclesSettled, readLoad, registrationLoad } from './memory.ts';
import { existsSync } from 'node:fs';

const NEPAL = path.join(projectRoot, '..', 'shared', 'data', 'nepal-geography');

/** What the API's V8 heap held at its largest during a phase, from its own /metrics (prom-client's default metrics), MiB. */
export interface HeapPeak {
  /** The young generation's committed size (semi-spaces): bounded by --max-semi-space-size. */
  newSpace: number;
  /** The old generation's committed size: bounded by --max-old-space-size. */
  oldSpace: number;
  /** Everything V8 committed (all spaces). */
  total: number;
  /** Live objects after the phase, all spaces. */
  usedAfter: number;
}

export interface ApiMemoryRun {
  /** NODE_OPTIONS the API ran with ('' for none). */
  nodeOptions: string;
  round: number;
  idleMiB: number;
  readsPeakMiB: number;
  registrationsPeakMiB: number;
  /** Resident 5 s after the registrations. */
  afterMiB: number;
  heap: HeapPeak;
  reads: Latency;
  registrations: Latency;
}

export interface ApiMemorySection {
  requests: number;
  registrations: number;
  runs: ApiMemoryRun[];
}

const MIB = 1_048_576;
const WARM_UP_MEMBERS = 300;

/** The API's heap spaces from its ops listener's /metrics, MiB. */
async function heapSpaces(opsUrl: string): Promise<{ newSpace: number; oldSpace: number; total: number; used: number }> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const value = (name: string, space?: string) => {
    const line = text.split('\n').find((l) => l.startsWith(space ? `${name}{space="${space}"}` : `${name} `));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) / MIB : 0;
  };
  return { newSpace: value('nodejs_heap_space_size_total_bytes', 'new'), oldSpace: value('nodejs_heap_space_size_total_bytes', 'old'), total: value('nodejs_heap_size_total_bytes'), used: value('nodejs_heap_size_used_bytes') };
}

/** Polls the API's heap every second until stopped: the largest of each figure. */
function heapWatch(opsUrl: string): { stop(): Promise<Omit<HeapPeak, 'usedAfter'>> } {
  const peak = { newSpace: 0, oldSpace: 0, total: 0 };
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      const h = await heapSpaces(opsUrl).catch(() => undefined);
      if (h) for (const key of ['newSpace', 'oldSpace', 'total'] as const) peak[key] = Math.max(peak[key], h[key]);
      await sleep(1_000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return { newSpace: round(peak.newSpace, 0), oldSpace: round(peak.oldSpace, 0), total: round(peak.total, 0) };
    },
  };
}

/**
 * The API's resident memory under each of `configs` (NODE_OPTIONS, '' for none), alternated over
 * `rounds` on one stack: for each, a fresh API process (as `npm run api` starts it, on the same
 * port) is measured idle, under `requests` searches and statistics reads 8 at a time, and under
 * `registrations` applications 16 at a time, with the latency of both, so a setting's cost in
 * speed shows beside what it saves. Each phase starts once the worker has run the previous
 * phase's lifecycles to their wait for approval.
 */
export async function benchApiMemory(options: { configs: string[]; rounds: number; requests: number; registrations: number; log: (line: string) => void }): Promise<ApiMemorySection> {
  const { log } = options;
  const stack: FaultStack = await startFaultStack('bench-memory-api', { logLevel: 'info', workerPoolSize: 10 });
  try {
    if (existsSync(NEPAL)) await importGeography(stack.db.owner, await parseJsonLayout(NEPAL));
    const reads = await readLoad(stack);
    const runs: ApiMemoryRun[] = [];
    let series = 20;
    // Untimed, through the stack's own API: members enough that every read fills its page from
    // the first phase on (an empty party answers empty pages, faster than any later phase).
    let registered = WARM_UP_MEMBERS;
    await registrationLoad(stack, WARM_UP_MEMBERS, series++);
    await lifecyclesSettled(stack, registered);
    await stack.api.stop();
    for (let r = 1; r <= options.rounds; r++) {
      for (const nodeOptions of options.configs) {
        log(`memory-api: round ${r}, NODE_OPTIONS='${nodeOptions}'`);
        const api = new ChildService('api', 'api/server.ts', { ...stack.env, NODE_OPTIONS: nodeOptions });
        await api.start(API_READY);
        try {
          const pid = api.pid!;
          await sleep(3_000);
          const idleMiB = round((await residentMiB(pid)) ?? 0, 0);
          const watch = heapWatch(stack.opsUrl);
          const duringReads = new MemorySampler(() => residentMiB(pid));
          const readMs = await reads(options.requests);
          await duringReads.stop();
          const duringRegistrations = new MemorySampler(() => residentMiB(pid));
          const registerMs = await registrationLoad(stack, options.registrations, series++);
          await duringRegistrations.stop();
          const heap = await watch.stop();
          await sleep(5_000);
          const afterMiB = round((await residentMiB(pid)) ?? 0, 0);
          const usedAfter = round((await heapSpaces(stack.opsUrl)).used, 0);
          // The worker done with this phase's lifecycles before the next phase, so no phase's reads compete with the last one's work.
          registered += options.registrations;
          await lifecyclesSettled(stack, registered);
          runs.push({
            nodeOptions, round: r, idleMiB, readsPeakMiB: round(duringReads.peak, 0), registrationsPeakMiB: round(duringRegistrations.peak, 0),
            afterMiB, heap: { ...heap, usedAfter },
            reads: summarize(readMs), registrations: summarize(registerMs),
          });
        } finally {
          await api.stop(5_000);
        }
      }
    }
    return { requests: options.requests, registrations: options.registrations, runs };
  } finally {
    await stack.close();
  }
}

export function apiMemoryMarkdown(m: ApiMemorySection): string[] {
  const name = (o: string) => (o ? `\`${o}\`` : 'none');
  return [
    '', '## The API\'s memory by NODE_OPTIONS', '',
    `A fresh API process for each setting (the settings alternated, round by round, on one stack; the worker running), its resident memory (RSS, sampled every 250 ms from /proc) started and idle, at its peak under ${m.requests} searches and statistics reads 8 at a time, at its peak under ${m.registrations.toLocaleString('en')} registrations 16 at a time (each lifecycle then run by the worker), and 5 s after; each phase begun once the worker had run the previous one's lifecycles to their wait for approval, the first after ${WARM_UP_MEMBERS} untimed registrations (reads fill their pages from the first phase on). V8's heap from the API's own /metrics, polled every second: the largest committed young (new) and old generations and total, and the live heap after.`,
    '', '| NODE_OPTIONS | round | idle MiB | reads peak MiB | registrations peak MiB | after MiB | new space MiB | old space MiB | heap committed MiB | heap live after MiB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...m.runs.map((r) => `| ${name(r.nodeOptions)} | ${r.round} | ${r.idleMiB} | ${r.readsPeakMiB} | ${r.registrationsPeakMiB} | ${r.afterMiB} | ${r.heap.newSpace} | ${r.heap.oldSpace} | ${r.heap.total} | ${r.heap.usedAfter} |`),
    '', 'Latency through the API in the same phases (client in the bench process):', '',
    '| NODE_OPTIONS, round: requests | n | p50 ms | p95 ms | p99 ms |', '| --- | --- | --- | --- | --- |',
    ...m.runs.flatMap((r) => [latencyRow(`${name(r.nodeOptions)}, ${r.round}: reads`, r.reads), latencyRow(`${name(r.nodeOptions)}, ${r.round}: registrations`, r.registrations)]),
  ];
}

export function apiMemoryGoals(m: ApiMemorySection, mark: (met: boolean) => string): string[] {
  return [...new Set(m.runs.map((r) => r.nodeOptions))].map((o) => {
    const peak = Math.max(...m.runs.filter((r) => r.nodeOptions === o).map((r) => Math.max(r.readsPeakMiB, r.registrationsPeakMiB)));
    return `| API < ${API_GOAL_MIB} MiB, NODE_OPTIONS ${o ? `\`${o}\`` : 'none'} | peak ${peak} MiB | ${mark(peak < API_GOAL_MIB)} |`;
  });
}
