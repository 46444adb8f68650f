import { readFileSync } from 'node:fs';
import {
  CEILING, LIKELY, LIKELY_EVEN, MEASURED, capacityModel, coresFor, loadOf, oneMachine, renderAll, renderOneMachine, renderScenarios, renderUnitCosts, unitCosts,
} from '../../bench/capacity-model.ts';

test('unit costs follow from the measured rates: a lifecycle is its Temporal side plus its own work', () => {
  const c = unitCosts();
  expect(c.lifecycle).toBeCloseTo(2 / 4.93, 6);
  expect(c.temporalPerLifecycle).toBeCloseTo(2 / 7.71, 6);
  expect(c.temporalPerLifecycle + c.productPerLifecycle).toBeCloseTo(c.lifecycle, 9);
  expect(c.searchSql).toBeLessThan(c.searchApi);
});

test('the loads are the assumptions multiplied out', () => {
  const load = loadOf(3_600_000, 7, LIKELY);
  // 3.6 M × 20 % over 30 days = 24,000 a day; × 3 on the peak day × 15 % in its busiest hour, per second
  expect(load.lifecyclesPerSecond).toBeCloseTo((24_000 * 3 * 0.15) / 3600, 9);
  // every member's renewal started on 1 Shrawan within 4 hours
  expect(load.renewalStartsPerSecond).toBeCloseTo(3_600_000 / (4 * 3600), 9);
  expect(load.searchesPerSecond).toBeCloseTo((7 * 7_581 * 0.5 * 30) / 3600, 9);
});

test('the recommended node counts keep every tier under the planned utilisation at the peak', () => {
  for (const scenario of [LIKELY_EVEN, LIKELY, CEILING]) {
    const r = capacityModel(scenario);
    const perNode = (cores: number) => cores * scenario.targetUtilisation;
    expect(r.platformCores.temporal / r.temporalNodes).toBeLessThanOrEqual(perNode(scenario.temporalNodeCores));
    expect(r.platformCores.postgres / r.postgresWorkerNodes).toBeLessThanOrEqual(perNode(scenario.postgresNodeCores));
    // the largest party is one shard: its peak must fit one worker node on its own
    expect(r.largestCores.postgres).toBeLessThanOrEqual(perNode(scenario.postgresNodeCores));
    // history shards: a power of two, at least 512, and no shard over its planned open workflows
    expect(Math.log2(r.historyShards) % 1).toBe(0);
    expect(r.historyShards).toBeGreaterThanOrEqual(512);
    expect(r.openWorkflowsAtPeak / r.historyShards).toBeLessThanOrEqual(scenario.openWorkflowsPerShard);
  }
});

test('changing an assumption moves the result the right way', () => {
  const base = capacityModel(LIKELY);
  const moreMembers = capacityModel({ ...LIKELY, memberShare: 0.4 });
  expect(moreMembers.members).toBe(2 * base.members);
  expect(moreMembers.platformCores.total).toBeGreaterThan(base.platformCores.total);
  expect(moreMembers.storageBytes).toBeCloseTo(2 * base.storageBytes, 0);

  // spreading renewals over the year removes the season's peak
  const even = capacityModel(LIKELY_EVEN);
  expect(even.platform.renewalStartsPerSecond).toBeLessThan(base.platform.renewalStartsPerSecond / 300);
  expect(even.platformCores.temporal).toBeLessThan(base.platformCores.temporal);
  expect(even.openWorkflowsAtPeak).toBeLessThan(base.openWorkflowsAtPeak);

  // a faster measured lifecycle needs fewer cores for the same load
  const faster = coresFor(base.platform, { ...MEASURED, lifecyclesPerSecond: 6.62 }, LIKELY);
  expect(faster.total).toBeLessThan(base.platformCores.total);

  // more searches per head load the API, not Temporal
  const busier = capacityModel({ ...LIKELY, searchesPerHeadHour: 60 });
  expect(busier.platformCores.workers).toBeGreaterThan(base.platformCores.workers);
  expect(busier.platformCores.temporal).toBeCloseTo(base.platformCores.temporal, 9);

  // a larger largest party needs more of its node
  expect(capacityModel({ ...LIKELY, largestPartyShare: 0.7 }).largestCores.postgres).toBeGreaterThan(base.largestCores.postgres);
});

test('one machine: the lifecycle load is the measured rate, and the likely season overruns it on payments and searches', () => {
  const loads = oneMachine(LIKELY);
  expect(loads[0]).toMatchObject({ oneMachinePerSecond: 4.93 });
  const over = loads.filter((l) => l.ratio > 1).map((l) => l.load);
  expect(over).toEqual(['renewal season: renewal payments', 'committee heads: searches']);
});

test('the printed tables are deterministic, and docs/scale-out.md quotes each as printed', () => {
  expect(renderAll()).toBe(renderAll());
  expect(renderOneMachine()).toContain('| drive: new lifecycles | 4.93 |');
  const doc = readFileSync(new URL('../../docs/scale-out.md', import.meta.url), 'utf8');
  for (const table of [renderUnitCosts(), renderOneMachine(), renderScenarios()]) expect(doc).toContain(table);
});
