import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { masterKeyFromBase64 } from '../src/crypto/master-key.ts';
import { projectRoot } from '../src/paths.ts';
import { startApiHarness } from '../test/support/api-harness.ts';
import { startTestServers } from '../test/support/servers.ts';
import { generatedDotEnv, resolvedCompose, serviceEnvironment } from '../test/support/compose-file.ts';
import { benchAsOf } from './sections/as-of.ts';
import { benchCards } from './sections/cards.ts';
import { benchLifecycles } from './sections/lifecycle.ts';
import { benchMemory } from './sections/memory.ts';
import { benchApiMemory } from './sections/memory-api.ts';
import { benchRegistration } from './sections/registration.ts';
import { benchRenewalRun } from './sections/renewal-run.ts';
import { importSynthetic, loadGeography } from './sections/scale-data.ts';
import { benchSearch, benchStatistics, explainSearch } from './sections/search.ts';
import type { ApiHarness } from '../test/support/api-harness.ts';
import { HttpClient } from './support/http-client.ts';
import { describeMachine } from './support/machine.ts';
import { renderReport, type BenchReport } from './support/report.ts';

/**
 * `npm run bench`: every figure in one run, each next to a baseline measured in the same run
 * on the same servers. `--quick` is a small smoke run. Writes bench/results/<date>.md and .json.
 */
async function memberCount(api: ApiHarness): Promise<number> {
  return api.db.app.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT set_config('app.tenant_id', ${api.tenant.id}, true)`);
    return tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM members`);
  });
}

/** A service's NODE_OPTIONS for the memory section: `--<flag>`, else the compose file's production default; `none` for none. */
function nodeOptionsOf(service: 'api' | 'worker', flagName: string): string | undefined {
  const flag = process.argv.indexOf(flagName);
  const given = flag > 0 ? process.argv[flag + 1]! : serviceEnvironment(resolvedCompose(generatedDotEnv((bytes, encoding) => randomBytes(bytes).toString(encoding))), service).NODE_OPTIONS;
  return given === 'none' || !given ? undefined : given;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const membersFlag = process.argv.indexOf('--members');
  const targetMembers = membersFlag > 0 ? Number(process.argv[membersFlag + 1]) : 1_000_000;
  // `--only cards,lifecycles,registration,scale,memory` runs a subset while working on one figure;
  // `--only search` is the scale section without its as-of and renewal-run parts.
  const onlyFlag = process.argv.indexOf('--only');
  const only = onlyFlag > 0 ? new Set(process.argv[onlyFlag + 1]!.split(',')) : null;
  const runs = (section: string) => only === null || only.has(section);
  // `--out DIR` writes the report elsewhere than bench/results (the smoke test's temporary directory).
  const outFlag = process.argv.indexOf('--out');
  const dir = outFlag > 0 ? path.resolve(process.argv[outFlag + 1]!) : path.join(projectRoot, 'bench', 'results');
  const servers = await startTestServers(true);
  Object.assign(process.env, servers.env);
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  // `--card-worker process` runs the card queue's worker in a process of its own for the lifecycle section (default: inline, in this process).
  const cardWorkerFlag = process.argv.indexOf('--card-worker');
  const cardWorker = cardWorkerFlag > 0 ? z.enum(['inline', 'process']).parse(process.argv[cardWorkerFlag + 1]) : 'inline';
  // Known here so that a worker process of the bench's own (the card worker) holds the same master key.
  const masterKeyBase64 = randomBytes(32).toString('base64');
  const api = await startApiHarness({ paymentWindowMs: 3_600_000 }, {}, { masterKey: masterKeyFromBase64(masterKeyBase64) });
  try {
    const postgres = await api.db.app.oneFirst(sql.type(z.object({ v: z.string() }))`SELECT current_setting('server_version') AS v`);
    const report: BenchReport = { date: new Date().toISOString(), quick, machine: describeMachine(postgres), sections: {} };
    if (runs('cards')) {
      log('ID cards');
      report.sections.cards = await benchCards(quick ? 10 : 100);
    }
    if (runs('lifecycles')) {
      log('lifecycles');
      // `--lifecycles-at COUNT,CONCURRENCY` (e.g. 100,4: the bench's own client loads the machine less) instead of 200 at 20.
      const atFlag = process.argv.indexOf('--lifecycles-at');
      const [count, concurrency] = atFlag > 0 ? process.argv[atFlag + 1]!.split(',').map(Number) : quick ? [10, 4] : [200, 20];
      report.sections.lifecycles = await benchLifecycles(api, count!, concurrency!, { cardWorker, masterKeyBase64 });
    }
    if (runs('registration')) {
      log('registration latency');
      // The target's rate: 50/s, open loop, p99 under 30 ms (issue #17). The request records the
      // application in one transaction and answers; its lifecycle is started after the answer and runs on.
      const client = new HttpClient(api.baseUrl);
      try {
        report.sections.registration = await benchRegistration(api, client, quick ? 10 : 50, quick ? 3 : 30, log);
      } finally {
        await client.close();
      }
    }
    if (runs('scale') || runs('search')) await benchScale(api, report, { quick, targetMembers, log, searchOnly: !runs('scale') });
    if (runs('memory')) {
      // On servers and processes of its own: the API, the worker and each import in a process of
      // its own, so each one's memory is its own. `--worker-cache N` overrides WORKER_MAX_CACHED_WORKFLOWS.
      // `--import-sizes 100000,1000000` (or `none`) and `--lifecycles N` change what it loads;
      // The API runs with the NODE_OPTIONS the compose file gives it in production;
      // `--api-node-options '--max-old-space-size=128'` runs it with others, `none` with Node's defaults.
      const cacheFlag = process.argv.indexOf('--worker-cache');
      const sizesFlag = process.argv.indexOf('--import-sizes');
      const lifecyclesFlag = process.argv.indexOf('--lifecycles');
      const importSizes = sizesFlag > 0 ? process.argv[sizesFlag + 1]!.split(',').filter((n) => n !== 'none').map(Number)
        : quick ? [2_000, 20_000] : [100_000, Math.min(targetMembers, 1_000_000)];
      report.sections.memory = await benchMemory({
        importSizes, lifecycles: lifecyclesFlag > 0 ? Number(process.argv[lifecyclesFlag + 1]) : quick ? 500 : 10_000,
        workerCache: cacheFlag > 0 ? Number(process.argv[cacheFlag + 1]) : undefined, log,
        // The API and the worker run with the NODE_OPTIONS the compose file gives them; `--api-node-options` and `--worker-node-options` others (`none`: Node's defaults).
        nodeOptions: nodeOptionsOf('api', '--api-node-options'),
        workerNodeOptions: nodeOptionsOf('worker', '--worker-node-options'),
      });
    }
    if (runs('memory-api')) {
      // The API alone under each NODE_OPTIONS, alternated: `--api-configs 'none;--max-semi-space-size=8'`
      // (`;` between settings, `none` for none), `--rounds N`, `--requests N`, `--registrations N`.
      const flag = (name: string, fallback: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback);
      report.sections.memoryApi = await benchApiMemory({
        configs: flag('--api-configs', 'none').split(';').map((c) => (c.trim() === 'none' ? '' : c.trim())),
        rounds: Number(flag('--rounds', quick ? '1' : '2')), requests: Number(flag('--requests', quick ? '200' : '2000')),
        registrations: Number(flag('--registrations', quick ? '100' : '1500')), log,
      });
    }
    await mkdir(dir, { recursive: true });
    const stem = path.join(dir, `${report.date.slice(0, 10)}${quick ? '-quick' : ''}${only ? `-${[...only].join('-')}` : ''}${cardWorker === 'process' ? '-card-worker-process' : ''}`);
    await writeFile(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${stem}.md`, renderReport(report));
    log(`wrote ${stem}.md`);
  } finally {
    await api.stop();
    await servers.stop();
  }
}

/** Imports synthetic members in chunks, measuring search and statistics at the first and the largest size, then as-of statistics and the daily renewal run at the largest. */
async function benchScale(api: ApiHarness, report: BenchReport, options: { quick: boolean; targetMembers: number; log: (line: string) => void; searchOnly: boolean }): Promise<void> {
  const { quick, targetMembers, log, searchOnly } = options;
  report.sections.geography = await loadGeography(api);
  // A token lives 15 minutes and the import of a million takes longer: each measurement takes a fresh one.
  const { userId } = await api.userWithToken({ roles: ['tenant_admin'] });
  const token = () => api.tokenFor(userId);
  const chunk = quick ? 2_000 : 100_000;
  log(`import ${chunk} members`);
  const imports = [await importSynthetic(api, chunk, 1)];
  // `--times N`: samples per query (a quick run takes 5 unless told).
  const timesFlag = process.argv.indexOf('--times');
  const times = timesFlag > 0 ? Number(process.argv[timesFlag + 1]) : quick ? 5 : 100;
  // The load generator runs on its own thread, not in the event loop of the API it measures.
  const client = new HttpClient(api.baseUrl);
  // As autovacuum would after a load: statistics, and trigram entries merged (docs/search.md).
  // Without the pool's statement timeout: at a million members on a busy machine it takes longer than 30 s.
  const settle = () => api.db.owner.connect(async (connection) => {
    await connection.query(sql.unsafe`SET statement_timeout = 0`);
    await connection.query(sql.unsafe`VACUUM ANALYZE members`);
    await connection.query(sql.unsafe`RESET statement_timeout`);
  });
  await settle();
  log('search and statistics at the first size');
  report.sections.scale = [{ members: await memberCount(api), search: await benchSearch(api, client, await token(), times), statistics: await benchStatistics(api, client, await token(), times) }];
  if (!quick) {
    const chunks = Math.ceil(targetMembers / chunk);
    for (let seed = 2; seed <= chunks; seed++) {
      log(`import chunk ${seed} of ${chunks}`);
      try {
        imports.push(await importSynthetic(api, chunk, seed));
      } catch (err) {
        (report.notes ??= []).push(`Import of chunk ${seed} failed, so the largest size measured is smaller than asked: ${(err as Error).message}`);
        break;
      }
    }
    await settle();
    log('search and statistics at the largest size');
    report.sections.scale.push({ members: await memberCount(api), search: await benchSearch(api, client, await token(), times), statistics: await benchStatistics(api, client, await token(), times) });
    log('search plans');
    await writeFile(path.join(projectRoot, 'docs', 'search-plans.md'), await explainSearch(api, await token()));
  }
  await client.close();
  if (searchOnly) {
    report.sections.imports = imports;
    return;
  }
  // A failing section at the largest size is noted and the next one still runs: the import alone took most of the run.
  const section = async (name: string, work: () => Promise<void>) => {
    log(name);
    try {
      await work();
    } catch (err) {
      if (quick) throw err;
      (report.notes ??= []).push(`The section "${name}" failed at this size: ${(err as Error).message}`);
    }
  };
  await section('statistics as of a date', async () => {
    report.sections.asOf = await benchAsOf(api, await token(), { times, historyDays: quick ? 30 : 3 * 365, members: await memberCount(api) });
  });
  await section('daily renewal run', async () => {
    report.sections.renewalRun = await benchRenewalRun(api, await memberCount(api), log);
  });
  report.sections.imports = imports;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
