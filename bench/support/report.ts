import type { CpuSnapshot } from './process-cpu.ts';
import { asOfMarkdown, type AsOfSection } from '../sections/as-of.ts';
import type { CardsSection } from '../sections/cards.ts';
import { memoryGoals, memoryMarkdown, type MemorySection } from '../sections/memory.ts';
import { apiMemoryGoals, apiMemoryMarkdown, type ApiMemorySection } from '../sections/memory-api.ts';
import { renewalRunMarkdown, type RenewalRunSection } from '../sections/renewal-run.ts';
import type { RegistrationSection } from '../sections/registration.ts';
import { comparisonMarkdown, OVERHEAD_GOAL_MS, type Comparison } from '../sections/search.ts';
import { latencyRow, round, type Latency } from './stats.ts';

export interface BenchReport {
  date: string;
  quick: boolean;
  machine: Record<string, string | number>;
  sections: {
    cards?: CardsSection;
    lifecycles?: { count: number; concurrency: number; rounds?: number; lifecyclesPerSecond: number; noopPerSecond: number; ratio: number; roundRatios?: number[];
      cpuMsPerLifecycle?: { real: CpuSnapshot; noop: CpuSnapshot };
      /** Where the card queue's worker ran: in the bench process beside the workflow worker, or in a process of its own. */
      cardWorker?: 'inline' | 'process';
      workflowTasks?: Record<'real' | 'noop', { scheduleToStart: Latency; duration: Latency }> };
    registration?: RegistrationSection;
    geography?: string;
    imports?: { rows: number; batchSize: number; rowsPerSecond: number; rawCopyRowsPerSecond: number; ratio: number; fairFloorRowsPerSecond?: number; floorRatio?: number }[];
    scale?: { members: number; search: Comparison[]; statistics: Comparison[] }[];
    asOf?: AsOfSection;
    renewalRun?: RenewalRunSection;
    memory?: MemorySection;
    memoryApi?: ApiMemorySection;
  };
  notes?: string[];
}

/** The Markdown report: every number beside its same-run baseline. */
export function renderReport(r: BenchReport): string {
  const lines = [`# Benchmark ${r.date}${r.quick ? ' (quick smoke run)' : ''}`, '', '## Machine', '', '| | |', '| --- | --- |'];
  for (const [key, value] of Object.entries(r.machine)) lines.push(`| ${key} | ${value} |`);
  const { cards, lifecycles, registration } = r.sections;
  if (lifecycles) {
    const placement = lifecycles.cardWorker === 'process'
      ? ' The card and the emails on the card task queue, served by a worker process of its own (`WORKER_TASK_QUEUES=membership-cards`, as docker-compose.yml deploys it), the workflows and the other steps by the worker in the bench process; the no-op\'s card queue by a process of its own likewise.'
      : ' Both task queues (workflows and steps; card and emails) served by workers in the bench process, as one `npm run worker` runs them; the no-op likewise.';
    lines.push('', '## Lifecycle throughput', '', `${lifecycles.count} complete lifecycles (registration request, approve answered with the invoice, pay, activate, card, four emails), ${lifecycles.concurrency} at a time, against a no-op workflow of the same shape (same start, same updates, same seven activities and one local activity, same task queues, same timers, patch markers, search-attribute and memo updates) on the same Temporal server.${placement}`, '',
      '| | lifecycles/s |', '| --- | --- |', `| member lifecycle | ${lifecycles.lifecyclesPerSecond} |`, `| no-op baseline | ${lifecycles.noopPerSecond} |`, `| **ratio** | **${lifecycles.ratio}** (goal ≥ 0.8) |`);
    if (lifecycles.roundRatios) {
      lines.push('', `After an untimed warm-up of each, the two alternated in ${lifecycles.rounds} rounds of ${lifecycles.count / lifecycles.rounds!} each, so drift over the run falls on both; each round's ratio: ${lifecycles.roundRatios.join(', ')}.`);
    }
    const cpu = lifecycles.cpuMsPerLifecycle;
    if (cpu) {
      const sum = (c: typeof cpu.real) => c.bench + c.workers + c.temporal + c.postgres;
      lines.push('', 'CPU per lifecycle, by process, over the timed rounds (the machine has 2 cores; everything else running on it is not counted):', '',
        '| ms CPU per lifecycle | bench process (worker, activities, client) | card worker process | Temporal server | Postgres | total |', '| --- | --- | --- | --- | --- | --- |',
        `| member lifecycle | ${cpu.real.bench} | ${cpu.real.workers} | ${cpu.real.temporal} | ${cpu.real.postgres} | ${sum(cpu.real)} |`,
        `| no-op baseline | ${cpu.noop.bench} | ${cpu.noop.workers} | ${cpu.noop.temporal} | ${cpu.noop.postgres} | ${sum(cpu.noop)} |`);
    }
    const tasks = lifecycles.workflowTasks;
    if (tasks) {
      lines.push('', 'Workflow tasks of the timed lifecycles, from their histories: how long each waited for a worker (scheduled to started) and how long the worker took (started to completed), in ms.', '',
        '| | n | p50 ms | p95 ms | p99 ms |', '| --- | --- | --- | --- | --- |',
        latencyRow('member lifecycle: scheduled to started', tasks.real.scheduleToStart), latencyRow('member lifecycle: started to completed', tasks.real.duration),
        latencyRow('no-op: scheduled to started', tasks.noop.scheduleToStart), latencyRow('no-op: started to completed', tasks.noop.duration));
    }
  }
  if (registration) {
    lines.push('', '## Registration latency', '',
      `${registration.ratePerSecond} requests/s for ${registration.seconds} s, open loop from a client thread of its own. "Worker running": the whole product at work, each registration's lifecycle run meanwhile by the worker in the same process. "Worker stopped": the request path alone (the member row, its event, the consent and the lifecycle to start in one transaction; the answer waits for the commit, the lifecycle is started after it), the lifecycles waiting in Temporal as in a burst. "Floor": an empty tenant transaction and the start of a no-op workflow, at the same rate, with nothing of ours${registration.transactionFloor ? '; "transaction floor": the empty tenant transaction alone, what the request path waits for now' : ''}${registration.transaction ? '. "The registration transaction alone": registerApplicant called in the bench\'s process at the same rate, the worker stopped (no HTTP, no party lookup)' : ''}. Statuses: ${JSON.stringify(registration.registrationStatuses)} (worker running), ${JSON.stringify(registration.requestPathStatuses)} (worker stopped).`, '',
      '| what | n | p50 ms | p95 ms | p99 ms |', '| --- | --- | --- | --- | --- |',
      latencyRow('POST applications, worker running', registration.registration), latencyRow('POST applications, worker stopped', registration.requestPath),
      ...(registration.transaction ? [latencyRow('the registration transaction alone (in process, start handed off)', registration.transaction)] : []),
      latencyRow('floor: tenant transaction + workflow start', registration.floor),
      ...(registration.transactionFloor ? [latencyRow('transaction floor: tenant transaction', registration.transactionFloor)] : []), latencyRow('GET /healthz', registration.trivial), '',
      `POST applications p99: **${round(registration.registration.p99)} ms** with the worker running, **${round(registration.requestPath.p99)} ms** with it stopped; floor p99 ${round(registration.floor.p99)} ms (goal < 30 ms at 50/s).`);
  }
  if (cards) {
    lines.push('', '## ID cards', '', `${cards.count} cards, each member a different name, after a warm-up card: **${cards.msPerCardWall} ms** per card wall clock (mean), ${cards.msPerCardCpu} ms CPU of the rendering thread, ${cards.bytesPerCard} bytes. The floor, measured alternately with the cards: pdf-lib alone creating a page of the card's size with the card's strings in the same four subset fonts and saving it (no QR code, no fitting, no cache).`);
    if (cards.card && cards.floor) {
      lines.push('', '| | n | p50 ms | p95 ms | p99 ms | thread CPU ms (mean) |', '| --- | --- | --- | --- | --- | --- |',
        `${latencyRow('ID card', cards.card)} ${cards.msPerCardCpu} |`, `${latencyRow('floor: pdf-lib page + 4 subset fonts', cards.floor)} ${cards.floorCpuMs} |`);
    }
    const tail = cards.tail;
    if (tail) {
      lines.push('', `Where the tail is: each card's CPU of the rendering thread p50 ${round(tail.cardCpu.p50)} ms, p95 ${round(tail.cardCpu.p95)} ms, p99 ${round(tail.cardCpu.p99)} ms (against the wall clock's above: the rest is time the thread waited for a core); ${tail.cardsWithGc} of ${cards.count} cards had a garbage collection within them, ${tail.gcMsInCards} ms in all. The five slowest cards: wall ${tail.slowestWallMs.join(', ')} ms; thread CPU ${tail.slowestCpuMs.join(', ')} ms; GC ${tail.slowestGcMs.join(', ')} ms.`);
    }
  }
  const { imports, scale, geography } = r.sections;
  if (imports?.length) {
    lines.push('', '## Bulk import', '', `\`members:import\` of synthetic members (validate, deduplicate, encrypt, insert, one event each) against a raw COPY of the same CSV into an unlogged table, and against the fair floor: a binary COPY of the sealed rows the import wrote into a logged copy of members with the same indexes and no triggers. Geography: ${geography ?? 'n/a'}.`, '',
      '| rows | batch | rows/s | raw COPY rows/s | ratio | fair floor rows/s | ratio to floor |', '| --- | --- | --- | --- | --- | --- | --- |',
      ...imports.map((i) => `| ${i.rows} | ${i.batchSize} | ${i.rowsPerSecond} | ${i.rawCopyRowsPerSecond} | ${i.ratio} | ${i.fairFloorRowsPerSecond ?? 'n/a'} | ${i.floorRatio ?? 'n/a'} |`));
  }
  for (const size of scale ?? []) {
    lines.push('', `## Search and statistics at ${size.members.toLocaleString('en')} members`, '', 'Each query 25 per page, newest first. "API" is the HTTP request (auth, validation, JSON:API), sent and timed by a client on its own thread; "SQL" is the same query through the data layer in its tenant transaction; "/healthz" is the bare HTTP exchange from the same client. The three alternate request by request. The API overhead is API p95 − SQL p95 − /healthz p95.');
    lines.push(...comparisonMarkdown('Search', 'query', size.search));
    lines.push(...comparisonMarkdown('Statistics (subtree counts by status)', 'node', size.statistics));
  }
  if (r.sections.asOf) lines.push(...asOfMarkdown(r.sections.asOf));
  if (r.sections.renewalRun) lines.push(...renewalRunMarkdown(r.sections.renewalRun));
  if (r.sections.memory) lines.push(...memoryMarkdown(r.sections.memory));
  if (r.sections.memoryApi) lines.push(...apiMemoryMarkdown(r.sections.memoryApi));
  for (const note of r.notes ?? []) lines.push('', note);
  lines.push(...goals(r));
  return `${lines.join('\n')}\n`;
}

/** The goals against this run's numbers: measured, not asserted. */
function goals(r: BenchReport): string[] {
  const rows: string[] = [];
  const mark = (met: boolean) => (met ? 'yes' : '**no**');
  const { cards, lifecycles, imports, scale } = r.sections;
  if (cards?.card) rows.push(`| ID card p95 < 10 ms | p50 ${cards.card.p50.toFixed(1)} ms, p95 ${cards.card.p95.toFixed(1)} ms, mean ${cards.msPerCardWall} ms; ${cards.msPerCardCpu} ms CPU of the rendering thread | ${mark(cards.card.p95 < 10)} |`);
  if (lifecycles) rows.push(`| lifecycle throughput ≥ 0.8 × no-op | ${lifecycles.ratio} | ${mark(lifecycles.ratio >= 0.8)} |`);
  const largest = scale?.[scale.length - 1];
  if (largest) {
    const worstP95 = Math.max(...largest.search.map((q) => q.api.p95));
    const worstRatio = Math.max(...largest.search.map((q) => q.ratioP95));
    const at = `at ${largest.members.toLocaleString('en')} members`;
    rows.push(`| search p95 < 50 ms ${at} | worst ${worstP95.toFixed(1)} ms | ${mark(worstP95 < 50)} |`);
    rows.push(`| search p95 ≤ 1.5 × the SQL ${at} | worst ${worstRatio} × | ${mark(worstRatio <= 1.5)} |`);
    const statsP95 = Math.max(...largest.statistics.map((q) => q.api.p95));
    rows.push(`| statistics p95 < 20 ms ${at} | worst ${statsP95.toFixed(1)} ms | ${mark(statsP95 < 20)} |`);
    const overhead = Math.max(...[...largest.search, ...largest.statistics].map((q) => q.overheadP95));
    rows.push(`| API overhead at p95 (API − SQL − /healthz) ≤ ${OVERHEAD_GOAL_MS} ms ${at}, search and statistics | worst ${overhead} ms | ${mark(overhead <= OVERHEAD_GOAL_MS)} |`);
  }
  const asOf = r.sections.asOf;
  if (asOf) {
    const worst = Math.max(...[...asOf.imported, ...asOf.withHistory].map((p) => p.asOfApi.p95));
    rows.push(`| statistics as of a date p95 < 200 ms at ${asOf.members.toLocaleString('en')} members (${asOf.historyDays} days of history) | worst ${worst.toFixed(1)} ms | ${mark(worst < 200)} |`);
  }
  if (imports?.length) {
    const slowest = Math.min(...imports.map((i) => i.rowsPerSecond));
    rows.push(`| import ≥ 10,000 rows/s | slowest chunk ${slowest.toLocaleString('en')} rows/s | ${mark(slowest >= 10_000)} |`);
    const floorRatios = imports.flatMap((i) => (i.floorRatio === undefined ? [] : [i.floorRatio]));
    if (floorRatios.length) rows.push(`| import ≥ 0.5 × the fair floor | lowest ${Math.min(...floorRatios)} | ${mark(Math.min(...floorRatios) >= 0.5)} |`);
  }
  if (r.sections.memory) rows.push(...memoryGoals(r.sections.memory, mark));
  if (r.sections.memoryApi) rows.push(...apiMemoryGoals(r.sections.memoryApi, mark));
  return rows.length ? ['', '## Goals', '', '| goal | this run | met |', '| --- | --- | --- |', ...rows] : [];
}
