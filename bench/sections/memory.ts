import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { config } from '../../src/config.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { importGeography } from '../../src/geography/import.ts';
import { parseJsonLayout } from '../../src/geography/json-layout.ts';
import { writeSyntheticMembers } from '../../src/imports/synthetic-members.ts';
import { loadActiveWards } from '../../src/imports/wards.ts';
import { projectRoot } from '../../src/paths.ts';
import { call, inParallel, sleep } from '../../test/faults/support/api-client.ts';
import { startFaultStack, type FaultStack } from '../../test/faults/support/fault-stack.ts';
import { applicant, register } from '../../test/faults/support/lifecycles.ts';
import { userWithToken } from '../../test/faults/support/party.ts';
import { MemorySampler, postmasterPid, residentMiB, treeProportionalMiB } from '../support/process-memory.ts';
import { latencyRow, round, summarize, type Latency } from '../support/stats.ts';

const NEPAL = path.join(projectRoot, '..', 'shared', 'data', 'nepal-geography');
/** The goals of issue #17 item 7. */
export const WORKER_GOAL_MIB = 1024;
export const API_GOAL_MIB = 256;

export interface ImportMemory {
  rows: number;
  seconds: number;
  peakMiB: number;
  /** Resident memory at each tenth of the import's time: flat when the file is streamed. */
  byTenth: number[];
}

export interface MemorySection {
  workerCache: number;
  /** NODE_OPTIONS the API ran with, if any. */
  nodeOptions?: string;
  /** NODE_OPTIONS the worker ran with, if any. */
  workerNodeOptions?: string;
  imports: ImportMemory[];
  /** The API's resident memory once started, before any request. */
  apiIdleMiB: number;
  members: number;
  databaseMiB: number;
  /** Search and statistics through the API at the largest size. */
  reads: { requests: number; apiPeakMiB: number; workerMiB: number; postgresMiB: number; latency: Latency };
  /** Lifecycles registered and left waiting for approval, all at once. */
  lifecycles: { open: number; seconds: number; workerPeakMiB: number; workerAfterMiB: number; apiPeakMiB: number; postgresMiB: number; registration: Latency };
}

const byTenths = (sampler: MemorySampler, totalMs: number): number[] =>
  Array.from({ length: 10 }, (_, i) => round(sampler.peakBetween((i * totalMs) / 10, ((i + 1) * totalMs) / 10), 0));

/** `members:import` as an operator runs it, in a process of its own, its resident memory sampled as it goes. */
async function importInProcess(stack: FaultStack, file: string, rows: number): Promise<ImportMemory> {
  const args = [path.join(projectRoot, 'src', 'cli', 'main.ts'), 'members:import', file, '--tenant', stack.party.tenant.slug, '--skip-invalid'];
  const child = spawn(process.execPath, args, { env: { ...stack.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid!;
  const sampler = new MemorySampler(() => residentMiB(pid), 200);
  const start = performance.now();
  const code = await exited;
  const ms = performance.now() - start;
  await sampler.stop();
  if (code !== 0) throw new Error(`members:import exited ${String(code)}: ${output.join('').slice(-2_000)}`);
  return { rows, seconds: round(ms / 1000, 1), peakMiB: round(sampler.peak, 0), byTenth: byTenths(sampler, ms) };
}

async function postgresMiB(stack: FaultStack): Promise<number> {
  return round(await treeProportionalMiB(await postmasterPid(path.join(stack.dir, 'postgres'))), 0);
}

const count = (stack: FaultStack, query: string) => stack.client.workflow.count(query).then((c) => c.count);

/** Waits until `total` lifecycles await approval or ended (an applicant whose phone an imported member has is refused at once): the worker has nothing left to run. */
export async function lifecyclesSettled(stack: FaultStack, total: number): Promise<void> {
  const settled = `WorkflowType = "memberLifecycle" AND (MemberStage = "AwaitingApproval" OR ExecutionStatus != "Running")`;
  const deadline = Date.now() + 1_800_000;
  while (await count(stack, settled) < total) {
    if (Date.now() > deadline) throw new Error(`only ${await count(stack, settled)} of ${total} lifecycles reached AwaitingApproval or ended`);
    await sleep(1_000);
  }
}

/** The searches and statistics reads the memory sections send, as the party's admin: `requests` of them, 8 at a time; @returns each one's milliseconds. */
export async function readLoad(stack: FaultStack): Promise<(requests: number) => Promise<number[]>> {
  const token = await userWithToken(stack.db.app, stack.secrets, stack.party.tenant.id, `admin-${randomUUID()}@bench-memory.test`, ['tenant_admin']);
  const province = await stack.db.app.oneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT g.id FROM geography_nodes g WHERE g.type = 'province' ORDER BY (SELECT count(*) FROM geography_closure c WHERE c.ancestor_id = g.id) DESC LIMIT 1`);
  const reads = ['/api/members?filter[name]=Sharma&page[size]=25', '/api/members?filter[status]=active&page[size]=25', `/api/members?filter[geography]=${province}&page[size]=25`,
    `/api/statistics/geography/${province}`, '/api/members?page[size]=100'];
  return async (requests) => {
    const readMs: number[] = [];
    await inParallel(Array.from({ length: requests }, (_, i) => i), 8, async (i) => {
      const sent = performance.now();
      const answer = await call(stack.apiUrl, 'GET', reads[i % reads.length]!, { token });
      readMs.push(performance.now() - sent);
      if (answer.status !== 200) throw new Error(`GET ${reads[i % reads.length]!}: ${answer.status} ${JSON.stringify(answer.body)}`);
    });
    return readMs;
  };
}

/** `count` registrations through the API, 16 at a time, applicants of `series` (unique phones and emails per series); @returns each one's milliseconds. */
export async function registrationLoad(stack: FaultStack, count: number, series: number): Promise<number[]> {
  const registerMs: number[] = [];
  await inParallel(Array.from({ length: count }, (_, i) => applicant(i, series)), 16, async (a) => {
    const sent = performance.now();
    await register(stack, a);
    registerMs.push(performance.now() - sent);
  });
  return registerMs;
}

/**
 * Resident memory of the API, the worker and Postgres, each in its own process as in production:
 * while `members:import` loads the party (at each size in `importSizes`, to show it streams), at the
 * largest size under search and statistics, and with `lifecycles` lifecycles open at once.
 */
export async function benchMemory(options: { importSizes: number[]; lifecycles: number; workerCache?: number | undefined; nodeOptions?: string | undefined; workerNodeOptions?: string | undefined; log: (line: string) => void }): Promise<MemorySection> {
  const { log } = options;
  const workerCache = options.workerCache ?? config().WORKER_MAX_CACHED_WORKFLOWS;
  const stack = await startFaultStack('bench-memory', {
    logLevel: 'info', workerPoolSize: 10,
    extraEnv: { WORKER_MAX_CACHED_WORKFLOWS: String(workerCache) },
    apiExtraEnv: options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {},
    workerExtraEnv: options.workerNodeOptions ? { NODE_OPTIONS: options.workerNodeOptions } : {},
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-memory-'));
  try {
    // Started and connected, nothing asked of it yet.
    await sleep(3_000);
    const apiIdleMiB = round((await residentMiB(stack.api.pid!)) ?? 0, 0);
    if (existsSync(NEPAL)) await importGeography(stack.db.owner, await parseJsonLayout(NEPAL));
    const wards = await loadActiveWards(stack.db.app);
    const imports: ImportMemory[] = [];
    for (const [i, rows] of options.importSizes.entries()) {
      const file = path.join(dir, `members-${i}.csv`);
      await writeSyntheticMembers(file, { count: rows, seed: i + 1, wards, memberNumberPrefix: `MEM${String.fromCharCode(65 + i)}` });
      log(`memory: import ${rows} members in a process of its own`);
      imports.push(await importInProcess(stack, file, rows));
      await rm(file, { force: true });
    }
    const members = await withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'bench' },
      (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`));
    const databaseMiB = round(await stack.db.owner.oneFirst(sql.type(z.object({ b: z.number() }))`SELECT pg_database_size(current_database())::float8 / 1048576 AS b`), 0);

    log(`memory: search and statistics through the API at ${members} members`);
    const apiPid = stack.api.pid!;
    const workerPid = stack.worker.pid!;
    const requests = options.lifecycles >= 1_000 ? 2_000 : 200;
    const reads = await readLoad(stack);
    const apiDuringReads = new MemorySampler(() => residentMiB(apiPid));
    const readMs = await reads(requests);
    await apiDuringReads.stop();
    const readsSection = { requests, apiPeakMiB: round(apiDuringReads.peak, 0), workerMiB: round((await residentMiB(workerPid)) ?? 0, 0), postgresMiB: await postgresMiB(stack), latency: summarize(readMs) };

    log(`memory: ${options.lifecycles} lifecycles open at once`);
    const worker = new MemorySampler(() => residentMiB(workerPid));
    const api = new MemorySampler(() => residentMiB(apiPid));
    const start = performance.now();
    const registerMs = await registrationLoad(stack, options.lifecycles, 7);
    await lifecyclesSettled(stack, options.lifecycles);
    const seconds = round((performance.now() - start) / 1000, 1);
    // Settled: nothing more to run; what the worker keeps now is its cache and its runtime.
    await sleep(5_000);
    await Promise.all([worker.stop(), api.stop()]);
    return {
      workerCache, ...(options.nodeOptions && { nodeOptions: options.nodeOptions }), ...(options.workerNodeOptions && { workerNodeOptions: options.workerNodeOptions }),
      imports, apiIdleMiB, members, databaseMiB, reads: readsSection,
      lifecycles: {
        open: options.lifecycles, seconds, workerPeakMiB: round(worker.peak, 0), workerAfterMiB: round(worker.last, 0), apiPeakMiB: round(api.peak, 0),
        postgresMiB: await postgresMiB(stack), registration: summarize(registerMs),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await stack.close();
  }
}

export function memoryMarkdown(m: MemorySection): string[] {
  return [
    '', '## Memory', '',
    'Each process on its own, as in production: the API and the worker started as `npm run api` and `npm run worker` would be, `members:import` as an operator runs it. Resident memory (RSS) sampled every 200–250 ms from /proc; Postgres as the proportional set size of the postmaster and all its backends (shared buffers counted once).',
    `The worker's workflow cache (WORKER_MAX_CACHED_WORKFLOWS): ${m.workerCache.toLocaleString('en')} workflows.${m.nodeOptions ? ` The API ran with NODE_OPTIONS=${m.nodeOptions}.` : ''}${m.workerNodeOptions ? ` The worker ran with NODE_OPTIONS=${m.workerNodeOptions}.` : ''}`,
    '', '### Import', '',
    '| rows | seconds | peak RSS MiB | RSS by tenth of the run, MiB |', '| --- | --- | --- | --- |',
    ...m.imports.map((i) => `| ${i.rows.toLocaleString('en')} | ${i.seconds} | ${i.peakMiB} | ${i.byTenth.join(' · ')} |`),
    '', `### At ${m.members.toLocaleString('en')} members (database ${m.databaseMiB.toLocaleString('en')} MiB on disk)`, '',
    '| | API MiB | worker MiB | Postgres MiB |', '| --- | --- | --- | --- |',
    `| started, before any request | ${m.apiIdleMiB} | | |`,
    `| ${m.reads.requests} searches and statistics reads, 8 at a time (peak) | ${m.reads.apiPeakMiB} | ${m.reads.workerMiB} | ${m.reads.postgresMiB} |`,
    `| ${m.lifecycles.open.toLocaleString('en')} lifecycles registered 16 at a time and left open, awaiting approval (${m.lifecycles.seconds} s; peak) | ${m.lifecycles.apiPeakMiB} | ${m.lifecycles.workerPeakMiB} | ${m.lifecycles.postgresMiB} |`,
    `| the same, settled 5 s after the last reached its stage | | ${m.lifecycles.workerAfterMiB} | |`,
    '', 'Latency through the API while it was measured (the load generator in the bench process, requests as above):', '',
    '| requests | n | p50 ms | p95 ms | p99 ms |', '| --- | --- | --- | --- | --- |',
    latencyRow('searches and statistics reads, 8 at a time', m.reads.latency),
    latencyRow('registrations, 16 at a time', m.lifecycles.registration),
  ];
}

export function memoryGoals(m: MemorySection, mark: (met: boolean) => string): string[] {
  const [first, last] = [m.imports[0], m.imports[m.imports.length - 1]];
  const flat = first && last && last.rows > first.rows ? last.peakMiB <= first.peakMiB * 1.25 : undefined;
  return [
    `| worker < ${WORKER_GOAL_MIB} MiB with ${m.lifecycles.open.toLocaleString('en')} lifecycles open | peak ${m.lifecycles.workerPeakMiB} MiB | ${mark(m.lifecycles.workerPeakMiB < WORKER_GOAL_MIB)} |`,
    `| API < ${API_GOAL_MIB} MiB at ${m.members.toLocaleString('en')} members | peak ${Math.max(m.reads.apiPeakMiB, m.lifecycles.apiPeakMiB)} MiB | ${mark(Math.max(m.reads.apiPeakMiB, m.lifecycles.apiPeakMiB) < API_GOAL_MIB)} |`,
    ...(flat === undefined ? [] : [`| import memory flat as rows grow | peak ${first!.peakMiB} MiB at ${first!.rows.toLocaleString('en')} rows, ${last!.peakMiB} MiB at ${last!.rows.toLocaleString('en')} | ${mark(flat)} |`]),
  ];
}
