/**
 * Capacity model for running the product for every party in Nepal (docs/scale-out.md).
 *
 * `node_modules/.bin/node bench/capacity-model.ts` prints the tables the document quotes. It is
 * arithmetic only: the measured rates below are constants copied from the benchmark reports
 * named beside each (one shared 2-core machine running Postgres, Temporal, the worker and the
 * API together), and the assumptions are named so that each can be changed and its effect seen.
 * Deterministic: no clock, no randomness, no I/O.
 */
import { fileURLToPath } from 'node:url';

/** Rates measured by `npm run bench` on this machine; each names the report it comes from. */
export interface Measured {
  machineCores: number;
  lifecyclesPerSecond: number;
  noopLifecyclesPerSecond: number;
  renewalStartsPerSecond: number;
  renewalSelectionPerSecond: number;
  searchApiMs: number;
  searchSqlMs: number;
  importRowsPerSecond: number;
}

export const MEASURED: Readonly<Measured> = {
  /** Cores of the machine every rate below was measured on (all processes shared them). */
  machineCores: 2,
  /** bench/results/2026-12-02-lifecycles.md: whole lifecycles (register … card, three emails), alternated with the no-op. */
  lifecyclesPerSecond: 4.93,
  /** Same report: a no-op workflow of the same shape on the same Temporal server (the Temporal-side ceiling). */
  noopLifecyclesPerSecond: 7.71,
  /** bench/results/2026-12-05-scale.md: daily renewal run at 399,659 members, selection + workflow starts. */
  renewalStartsPerSecond: 335.5,
  /** Same report: selection of due members alone. */
  renewalSelectionPerSecond: 19_609,
  /** bench/results/2026-12-02.md, 997,789 members: mean over the 14 search queries of each one's mean API time (ms). */
  searchApiMs: 7.34,
  /** Same run: mean over the same queries of the SQL alone, in its tenant transaction (ms). */
  searchSqlMs: 2.64,
  /** Same run: slowest 100,000-row import chunk (rows/s) at ~1 M members. */
  importRowsPerSecond: 1_788,
};

/** The scenario's assumptions: every figure the model does not measure. */
export interface Assumptions {
  name: string;
  /** Registered voters (Election Commission, 2022: ~18 million). */
  voters: number;
  /** Share of voters who are a member of some party. */
  memberShare: number;
  /** Share of all members in the largest party. */
  largestPartyShare: number;
  /** Parties on the platform (each with its own committees at every level). */
  parties: number;
  /** Membership drive: new applications during the drive, as a share of a party's members. */
  driveGrowth: number;
  driveDays: number;
  /** Busiest day of a drive or payment window, as a multiple of its average day. */
  peakDayFactor: number;
  /** Share of a day's requests that arrive in its busiest hour. */
  peakHourShare: number;
  /** Terms renewed in one season on 1 Shrawan (fiscal-year terms) rather than on each member's anniversary. */
  fiscalYearRenewal: boolean;
  /** Share of due members who renew (pay). */
  renewalRate: number;
  /** Days over which renewal payments come in after the term ends. */
  paymentWindowDays: number;
  /** Hours in which the renewal run must start the day's renewals. */
  renewalRunHours: number;
  /** A renewal's work (open with its invoice, mails, payment, new card; no application or approval) as a fraction of a whole lifecycle's. */
  renewalCostOfLifecycle: number;
  /** Committees per party: 1 national + 7 provinces + 77 districts + 753 local levels + 6,743 wards. */
  committeesPerParty: number;
  /** Share of committee heads searching in the busiest hour, and searches each makes in it. */
  activeHeadShare: number;
  searchesPerHeadHour: number;
  /** Sizing: vCPUs of one Postgres (Citus worker) node and one Temporal history/matching node. */
  postgresNodeCores: number;
  temporalNodeCores: number;
  /** Planned peak utilisation of a node (the rest is headroom for failover and the measured noise). */
  targetUtilisation: number;
  /** Temporal's history shards are sized for this many open workflows each (the docs: "tens of thousands"). */
  openWorkflowsPerShard: number;
  /** Years of history kept when sizing storage. */
  years: number;
}

/** The likely case: a fifth of voters in a party, the largest party a third of them, fiscal-year renewal. */
export const LIKELY: Assumptions = {
  name: 'likely',
  voters: 18_000_000,
  memberShare: 0.2,
  largestPartyShare: 0.35,
  parties: 7,
  driveGrowth: 0.2,
  driveDays: 30,
  peakDayFactor: 3,
  peakHourShare: 0.15,
  fiscalYearRenewal: true,
  renewalRate: 0.7,
  paymentWindowDays: 30,
  renewalRunHours: 4,
  renewalCostOfLifecycle: 0.6,
  committeesPerParty: 1 + 7 + 77 + 753 + 6_743,
  activeHeadShare: 0.5,
  searchesPerHeadHour: 30,
  postgresNodeCores: 16,
  temporalNodeCores: 8,
  targetUtilisation: 0.5,
  openWorkflowsPerShard: 10_000,
  years: 5,
};

/** Renewal spread over the year (each member on their anniversary): the same members, no season. */
export const LIKELY_EVEN: Assumptions = { ...LIKELY, name: 'likely, renewals spread over the year', fiscalYearRenewal: false };

/** Every voter a member, the largest party 55 % of them (~10 M): what the platform must be able to grow to. */
export const CEILING: Assumptions = { ...LIKELY, name: 'ceiling', memberShare: 1, largestPartyShare: 0.55 };

export const SCENARIOS: readonly Assumptions[] = [LIKELY_EVEN, LIKELY, CEILING];

/**
 * Bytes per member kept in Postgres, estimated from the column types in migrations/ (not measured):
 * the member row with its 13 index entries; per lifecycle its events (~8 of ~0.8 kB with the
 * hash chain), audit rows (~12 of ~1.5 kB: old and new row as JSON) and billing/card/term rows;
 * per renewal its events, audit and rows.
 */
export const BYTES = {
  memberRow: 1_500,
  lifecycle: 8 * 800 + 12 * 1_500 + 2_000,
  renewal: 4 * 800 + 6 * 1_500 + 1_500,
} as const;

/** Temporal actions (starts, activities, updates, timers, search-attribute upserts) per workflow, counted from workflows/. */
export const ACTIONS = { lifecycle: 23, renewal: 14 } as const;

/** Core-seconds each unit of work cost on the measured machine. */
export function unitCosts(m: Measured = MEASURED) {
  const lifecycle = m.machineCores / m.lifecyclesPerSecond;
  const temporalPerLifecycle = m.machineCores / m.noopLifecyclesPerSecond;
  return {
    lifecycle,
    /** The no-op's share: Temporal server, its persistence and the workflow side of the worker. */
    temporalPerLifecycle,
    /** The rest: the activities' own work (tenant transactions, events, card, mail). */
    productPerLifecycle: lifecycle - temporalPerLifecycle,
    renewalStart: m.machineCores / m.renewalStartsPerSecond,
    renewalSelection: m.machineCores / m.renewalSelectionPerSecond,
    searchApi: (m.searchApiMs / 1000) * m.machineCores,
    searchSql: (m.searchSqlMs / 1000) * m.machineCores,
    importRow: m.machineCores / m.importRowsPerSecond,
  };
}

const HOUR = 3600;
const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export interface Load {
  /** New lifecycles per second in the busiest hour of a drive. */
  lifecyclesPerSecond: number;
  /** Renewal workflow starts per second while the run starts the day's renewals. */
  renewalStartsPerSecond: number;
  /** Renewal payments (and the rest of each renewal's work) per second in the busiest hour. */
  renewalPaymentsPerSecond: number;
  /** Member searches per second by committee heads in the busiest hour. */
  searchesPerSecond: number;
}

export interface PeakCores {
  temporal: number;
  postgres: number;
  workers: number;
  total: number;
}

export interface ModelResult {
  assumptions: Assumptions;
  members: number;
  largestParty: number;
  /** Whole platform, every party at its peak at once (the worst case: a national drive in renewal season). */
  platform: Load;
  /** The largest party alone: the load its own node must carry. */
  largest: Load;
  platformCores: PeakCores;
  largestCores: PeakCores;
  /** How many of the measured machines the platform's peak needs (1 = one machine suffices). */
  measuredMachines: number;
  eventsPerDayAverage: number;
  temporalActionsPerSecond: number;
  openWorkflowsAtPeak: number;
  historyShards: number;
  temporalNodes: number;
  postgresWorkerNodes: number;
  largestPartyNodeCores: number;
  storageBytes: number;
  importHoursLargestParty: number;
}

/** The loads of `members` members in `parties` parties (committees scale with parties, not members). */
export function loadOf(members: number, parties: number, a: Assumptions): Load {
  const drivePerDay = (members * a.driveGrowth) / a.driveDays;
  const lifecyclesPerSecond = (drivePerDay * a.peakDayFactor * a.peakHourShare) / HOUR;
  const duePerYear = members;
  const startsPerDay = a.fiscalYearRenewal ? duePerYear : duePerYear / 365;
  const renewalStartsPerSecond = startsPerDay / (a.renewalRunHours * HOUR);
  const paymentsPerDay = a.fiscalYearRenewal
    ? ((duePerYear * a.renewalRate) / a.paymentWindowDays) * a.peakDayFactor
    : (duePerYear * a.renewalRate) / 365;
  const renewalPaymentsPerSecond = (paymentsPerDay * a.peakHourShare) / HOUR;
  const searchesPerSecond = (parties * a.committeesPerParty * a.activeHeadShare * a.searchesPerHeadHour) / HOUR;
  return { lifecyclesPerSecond, renewalStartsPerSecond, renewalPaymentsPerSecond, searchesPerSecond };
}

/**
 * Cores each tier needs at the peak. The measurement cannot split the activities' work between
 * Postgres and the worker process, so the model charges all of it to each (an upper bound on both).
 */
export function coresFor(load: Load, m: Measured = MEASURED, a: Assumptions = LIKELY): PeakCores {
  const c = unitCosts(m);
  const lifecycleEquivalents = load.lifecyclesPerSecond + load.renewalPaymentsPerSecond * a.renewalCostOfLifecycle;
  const temporal = lifecycleEquivalents * c.temporalPerLifecycle + load.renewalStartsPerSecond * c.renewalStart;
  const postgres = lifecycleEquivalents * c.productPerLifecycle + load.searchesPerSecond * c.searchSql
    + load.renewalStartsPerSecond * c.renewalSelection;
  const workers = lifecycleEquivalents * c.productPerLifecycle + load.searchesPerSecond * (c.searchApi - c.searchSql);
  // A lifecycle's cost already holds its database and worker work once: the total counts it once.
  const total = lifecycleEquivalents * c.lifecycle + load.renewalStartsPerSecond * (c.renewalStart + c.renewalSelection)
    + load.searchesPerSecond * c.searchApi;
  return { temporal, postgres, workers, total };
}

export function capacityModel(a: Assumptions, m: Measured = MEASURED): ModelResult {
  const members = a.voters * a.memberShare;
  const largestParty = members * a.largestPartyShare;
  const platform = loadOf(members, a.parties, a);
  const largest = loadOf(largestParty, 1, a);
  const platformCores = coresFor(platform, m, a);
  const largestCores = coresFor(largest, m, a);
  const perNode = (cores: number) => cores * a.targetUtilisation;

  const lifecyclesPerYear = members * a.driveGrowth;
  const renewalsPerYear = members * a.renewalRate;
  const eventsPerDayAverage = (lifecyclesPerYear * 8 + renewalsPerYear * 4) / 365;
  const temporalActionsPerSecond = platform.lifecyclesPerSecond * ACTIONS.lifecycle
    + platform.renewalStartsPerSecond + platform.renewalPaymentsPerSecond * (ACTIONS.renewal - 1);
  // Fiscal-year renewal opens every member's renewal on one day, and each stays open through its payment window.
  // Every application of a drive may still be open (waiting for approval or payment) at its end.
  const openWorkflowsAtPeak = (a.fiscalYearRenewal ? members : (members / 365) * a.paymentWindowDays)
    + members * a.driveGrowth;
  const historyShards = Math.max(512, nextPowerOfTwo(openWorkflowsAtPeak / a.openWorkflowsPerShard));

  const storageBytes = members * (BYTES.memberRow + BYTES.lifecycle) + renewalsPerYear * a.years * BYTES.renewal
    + lifecyclesPerYear * a.years * BYTES.lifecycle;

  return {
    assumptions: a,
    members,
    largestParty,
    platform,
    largest,
    platformCores,
    largestCores,
    measuredMachines: platformCores.total / m.machineCores,
    eventsPerDayAverage,
    temporalActionsPerSecond,
    openWorkflowsAtPeak,
    historyShards,
    temporalNodes: Math.max(3, Math.ceil(platformCores.temporal / perNode(a.temporalNodeCores))),
    postgresWorkerNodes: Math.max(2, Math.ceil(platformCores.postgres / perNode(a.postgresNodeCores))),
    largestPartyNodeCores: largestCores.postgres / a.targetUtilisation,
    storageBytes,
    // One import runs one batch at a time, as measured: more cores do not shorten it.
    importHoursLargestParty: largestParty / m.importRowsPerSecond / HOUR,
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const gb = (bytes: number) => `${fmt(bytes / 1e9)} GB`;

export interface SingleLoad {
  load: string;
  /** The most of it one measured 2-core machine carries, everything else idle. */
  oneMachinePerSecond: number;
  peakPerSecond: number;
  /** Peak over capacity: above 1 one machine is not enough for this load alone. */
  ratio: number;
  /** The tier that does most of the load's work (the one to scale first). */
  firstToRunOut: string;
}

/** Each load alone against one measured machine: which runs out, and at what share of it. */
export function oneMachine(a: Assumptions, m: Measured = MEASURED): SingleLoad[] {
  const c = unitCosts(m);
  const load = loadOf(a.voters * a.memberShare, a.parties, a);
  const temporalShare = c.temporalPerLifecycle / c.lifecycle;
  const lifecycleTier = temporalShare > 0.5 ? `Temporal side (${fmt(temporalShare * 100)} % of a lifecycle's CPU)` : 'activities and Postgres';
  const entry = (name: string, capacity: number, peak: number, tier: string): SingleLoad =>
    ({ load: name, oneMachinePerSecond: capacity, peakPerSecond: peak, ratio: peak / capacity, firstToRunOut: tier });
  return [
    entry('drive: new lifecycles', m.lifecyclesPerSecond, load.lifecyclesPerSecond, lifecycleTier),
    entry('renewal season: renewal starts', m.machineCores / (c.renewalStart + c.renewalSelection), load.renewalStartsPerSecond,
      `Temporal (starts: ${fmt((m.renewalStartsPerSecond / m.renewalSelectionPerSecond) * 100, 1)} % is selection)`),
    entry('renewal season: renewal payments', m.lifecyclesPerSecond / a.renewalCostOfLifecycle, load.renewalPaymentsPerSecond, lifecycleTier),
    entry('committee heads: searches', m.machineCores / c.searchApi, load.searchesPerSecond,
      `API process (${fmt((1 - m.searchSqlMs / m.searchApiMs) * 100)} % of a search is outside SQL)`),
  ];
}

export function renderOneMachine(a: Assumptions = LIKELY, m: Measured = MEASURED): string {
  const lines = ['| load (likely case, busiest hour) | one machine carries /s | peak /s | peak ÷ capacity | does most of the work |', '| --- | --- | --- | --- | --- |'];
  for (const l of oneMachine(a, m)) {
    lines.push(`| ${l.load} | ${fmt(l.oneMachinePerSecond, 2)} | ${fmt(l.peakPerSecond, 2)} | ${fmt(l.ratio, 2)} | ${l.firstToRunOut} |`);
  }
  return lines.join('\n');
}


/** Core-seconds per unit of work, and how each is derived. */
export function renderUnitCosts(m: Measured = MEASURED): string {
  const c = unitCosts(m);
  const cores = m.machineCores;
  return [
    '| unit | core-s | derived as |', '| --- | --- | --- |',
    `| whole lifecycle | ${fmt(c.lifecycle, 4)} | ${cores} cores / ${m.lifecyclesPerSecond} lifecycles/s |`,
    `| its Temporal side (no-op) | ${fmt(c.temporalPerLifecycle, 4)} | ${cores} / ${m.noopLifecyclesPerSecond} no-op lifecycles/s |`,
    `| its activities' own work | ${fmt(c.productPerLifecycle, 4)} | the difference |`,
    `| renewal start (selection + start) | ${fmt(c.renewalStart, 5)} | ${cores} / ${m.renewalStartsPerSecond} starts/s |`,
    `| member search through the API | ${fmt(c.searchApi, 4)} | ${m.searchApiMs} ms × ${cores} cores |`,
    `| of which its SQL | ${fmt(c.searchSql, 4)} | ${m.searchSqlMs} ms × ${cores} cores |`,
    `| imported row | ${fmt(c.importRow, 5)} | ${cores} / ${fmt(m.importRowsPerSecond)} rows/s |`,
  ].join('\n');
}

/** The scenarios side by side, as markdown. */
export function renderScenarios(results: readonly ModelResult[] = SCENARIOS.map((s) => capacityModel(s))): string {
  const first = results[0]?.assumptions ?? LIKELY;
  const header = ['', ...results.map((r) => r.assumptions.name)];
  const row = (label: string, f: (r: ModelResult) => string) => `| ${label} | ${results.map(f).join(' | ')} |`;
  return [
    `| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`,
    row('members (all parties)', (r) => fmt(r.members)),
    row('largest party', (r) => fmt(r.largestParty)),
    row('drive peak: new lifecycles/s (platform)', (r) => fmt(r.platform.lifecyclesPerSecond, 2)),
    row('renewal run: starts/s (platform)', (r) => fmt(r.platform.renewalStartsPerSecond, 1)),
    row('renewal payments/s at peak (platform)', (r) => fmt(r.platform.renewalPaymentsPerSecond, 2)),
    row('committee-head searches/s (platform)', (r) => fmt(r.platform.searchesPerSecond, 1)),
    row('peak cores: Temporal side', (r) => fmt(r.platformCores.temporal, 1)),
    row('peak cores: Postgres (upper bound)', (r) => fmt(r.platformCores.postgres, 1)),
    row('peak cores: workers + API (upper bound)', (r) => fmt(r.platformCores.workers, 1)),
    row('peak cores: all, counted once', (r) => fmt(r.platformCores.total, 1)),
    row('measured 2-core machines needed', (r) => fmt(r.measuredMachines, 1)),
    row('largest party alone: Postgres cores at peak', (r) => fmt(r.largestCores.postgres, 1)),
    row('events/day (average)', (r) => fmt(r.eventsPerDayAverage)),
    row('Temporal actions/s at peak', (r) => fmt(r.temporalActionsPerSecond)),
    row('open workflows at peak', (r) => fmt(r.openWorkflowsAtPeak)),
    row('history shards (fixed at creation)', (r) => fmt(r.historyShards)),
    row(`Temporal nodes (${first.temporalNodeCores} vCPU, min 3)`, (r) => fmt(r.temporalNodes)),
    row(`Citus worker nodes (${first.postgresNodeCores} vCPU, min 2)`, (r) => fmt(r.postgresWorkerNodes)),
    row(`Postgres storage after ${first.years} years (estimate)`, (r) => gb(r.storageBytes)),
    row('importing the largest party, one import at the measured rate (h)', (r) => fmt(r.importHoursLargestParty, 1)),
  ].join('\n');
}

/** Everything the script prints: the three tables docs/scale-out.md quotes, in its order. */
export function renderAll(): string {
  return [renderUnitCosts(), renderOneMachine(), renderScenarios()].join('\n\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(renderAll());
}
