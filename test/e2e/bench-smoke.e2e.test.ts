import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/paths.ts';

/**
 * `npm run bench -- --quick`, the smoke run of the benchmark: every section runs on its own
 * servers and the report comes out complete. It measures nothing worth reading; it keeps the
 * benchmark from rotting between full runs.
 */
let out: string;

beforeAll(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), 'sadasya-bench-'));
});
afterAll(() => rm(out, { recursive: true, force: true }));

function runQuickBench(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'bench/run.ts'), '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

test('the quick benchmark runs every section and writes a complete report', async () => {
  const { code, output } = await runQuickBench();
  expect({ code, tail: code === 0 ? '' : output.slice(-4000) }).toEqual({ code: 0, tail: '' });

  const files = (await readdir(out)).toSorted();
  expect(files).toEqual([expect.stringMatching(/^\d{4}-\d{2}-\d{2}-quick\.json$/), expect.stringMatching(/^\d{4}-\d{2}-\d{2}-quick\.md$/)]);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  const { cards, lifecycles, registration, imports, scale, asOf, renewalRun } = report.sections;

  expect(cards).toMatchObject({ count: 10, msPerCardWall: expect.any(Number) });
  expect(lifecycles).toMatchObject({ count: 12, rounds: 4, roundRatios: [expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)] });
  expect(lifecycles.ratio).toBeGreaterThan(0);
  // Where each lifecycle's CPU went, by process: the no-op's Postgres share is nothing of ours.
  expect(lifecycles.cpuMsPerLifecycle.real).toEqual({ bench: expect.any(Number), temporal: expect.any(Number), postgres: expect.any(Number), workers: expect.any(Number) });
  // Workflow tasks of the timed lifecycles: how long each waited and ran.
  expect(lifecycles.workflowTasks.real.duration.n).toBeGreaterThan(0);
  expect([lifecycles.cpuMsPerLifecycle.real.bench > 0, lifecycles.cpuMsPerLifecycle.real.temporal > 0, lifecycles.cpuMsPerLifecycle.real.postgres > 0]).toEqual([true, true, true]);
  expect(registration.registrationStatuses).toEqual({ 201: registration.registration.n });
  expect(registration.requestPathStatuses).toEqual({ 201: registration.requestPath.n });
  expect([registration.registration.n, registration.requestPath.n, registration.floor.n]).toEqual([30, 30, 30]);
  expect(imports).toEqual([expect.objectContaining({ rows: 2000 })]);
  expect(imports[0].rowsPerSecond).toBeGreaterThan(0);
  expect(scale).toHaveLength(1);
  expect(scale[0].members).toBeGreaterThanOrEqual(2000);
  expect(scale[0].search.length).toBeGreaterThanOrEqual(10);
  for (const probe of [...scale[0].search, ...scale[0].statistics]) {
    expect([probe.name, probe.api.n, probe.sql.n, probe.healthz.n, typeof probe.overheadP95]).toEqual([probe.name, 5, 5, 5, 'number']);
  }

  // As of a date: every level measured twice (imported members, then with synthetic history) beside the current-rows endpoint,
  // and the rebuild from the events removes exactly the synthetic rows.
  expect(asOf).toMatchObject({ historyDays: 30, members: scale[0].members });
  expect(asOf.imported.map((p: { name: string }) => p.name)).toEqual(['province', 'district', 'local_level', 'ward']);
  for (const probe of [...asOf.imported, ...asOf.withHistory]) {
    expect([probe.name, probe.asOfApi.n, probe.asOfSql.n, probe.currentApi.n]).toEqual([probe.name, 5, 5, 5]);
  }
  expect(asOf.dailyRowsWithHistory).toBeGreaterThan(asOf.dailyRowsImported);
  expect(asOf.rebuild.differingRows).toBe(asOf.dailyRowsWithHistory - asOf.dailyRowsImported);
  expect(asOf.rebuild.changes).toBeGreaterThanOrEqual(scale[0].members);

  // The daily renewal run at the largest size: about a twelfth due on the day picked, every one started by the run (none before),
  // the baseline started as many no-op workflows, and everything started was terminated.
  expect(renewalRun).toMatchObject({ members: scale[0].members, run: { started: renewalRun.due, alreadyStarted: 0 }, noop: { started: renewalRun.due } });
  expect(renewalRun.due / renewalRun.members).toBeGreaterThan(0.06);
  expect(renewalRun.due / renewalRun.members).toBeLessThan(0.11);
  expect(renewalRun.ratio).toBeGreaterThan(0);
  expect(renewalRun.terminated.count).toBeGreaterThanOrEqual(2 * renewalRun.due);

  const markdown = await readFile(path.join(out, files[1]!), 'utf8');
  for (const heading of ['## Machine', '## Lifecycle throughput', '## Registration latency', '## ID cards', '## Bulk import', '## Statistics as of a date', '## Daily renewal run', '## Goals']) {
    expect(markdown).toContain(heading);
  }
}, 600_000);
