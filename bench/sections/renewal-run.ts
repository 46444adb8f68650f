import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { sql } from 'slonik';
import { z } from 'zod';
import { createRenewalActivities, RUN_PAGE, START_CONCURRENCY } from '../../activities/renewals/index.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { dueRenewals, type DueCursor, type DueRenewal } from '../../src/renewals/renewals.ts';
import { renewalWorkflowId, type MemberRenewalInput, type RenewalRunReport } from '../../src/renewals/renewal-contract.ts';
import { MemberId, MemberStage, StageEnteredAt, TenantId } from '../../src/temporal/search-attributes.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { findTenant, type Tenant } from '../../src/tenants/tenants.ts';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { ratio, round, timed } from '../support/stats.ts';

/** Nothing polls it: the baseline's workflows are started, never run, then terminated. */
const NOOP_QUEUE = 'bench-noop-renewal';

export interface RenewalRunSection {
  members: number;
  /** The day the run was measured on (the activity's clock), and the share of members due on each day looked at. */
  today: string;
  candidates: { day: string; due: number; share: number }[];
  due: number;
  selection: { ms: number; pages: number; duePerSecond: number };
  run: { ms: number; started: number; alreadyStarted: number; startsPerSecond: number };
  noop: { ms: number; started: number; startsPerSecond: number };
  /** run starts/s over no-op starts/s. */
  ratio: number;
  terminated: { count: number; ms: number };
}

const tenantOf = async (api: ApiHarness): Promise<Tenant> => {
  const tenant = await findTenant(api.db.app, api.tenant.id);
  if (!tenant) throw new Error('bench tenant not found');
  return tenant;
};

/**
 * Imported members' terms end on their registration anniversaries after the import day, so the
 * members due on a day are those whose last term ends within (day - grace - reinstatement,
 * day + notice]: counted here for the next days from the last terms' ends, the same rule as
 * dueRenewals. The day whose share is nearest a twelfth is the run's "today".
 */
async function pickDay(api: ApiHarness, tenant: Tenant, members: number): Promise<{ today: string; candidates: RenewalRunSection['candidates'] }> {
  const from = dateIn(tenant.timeZone, new Date());
  const days = Array.from({ length: 15 }, (_, k) => addDays(from, k));
  const back = tenant.gracePeriodDays + tenant.reinstatementWindowDays;
  const ends = await withTenant(api.db.app, { tenantId: tenant.id, actor: 'bench' }, (tx) => tx.any(sql.type(z.object({ endsOn: z.string(), n: z.number() }))`
    SELECT to_char(t.ends_on, 'YYYY-MM-DD') AS "endsOn", count(*)::int AS n
    FROM member_terms t JOIN members m ON m.id = t.member_id
    WHERE m.status IN ('active', 'suspended')
      AND t.ends_on > ${addDays(from, -back)}::date AND t.ends_on <= ${addDays(days.at(-1)!, tenant.renewalNoticeDays)}::date
      AND NOT EXISTS (SELECT 1 FROM member_terms later WHERE later.member_id = t.member_id AND later.term_number > t.term_number)
      AND NOT EXISTS (SELECT 1 FROM member_renewals r WHERE r.member_id = t.member_id AND r.term_number = t.term_number)
    GROUP BY t.ends_on`));
  const candidates = days.map((day) => {
    const lo = addDays(day, -back);
    const hi = addDays(day, tenant.renewalNoticeDays);
    const due = ends.filter((e) => e.endsOn > lo && e.endsOn <= hi).reduce((sum, e) => sum + e.n, 0);
    return { day, due, share: round(due / members, 4) };
  });
  const best = candidates.reduce((a, b) => (Math.abs(b.share - 1 / 12) < Math.abs(a.share - 1 / 12) ? b : a));
  return { today: best.day, candidates };
}

/** The activity's selection alone: the same pages of the same query in the same tenant transactions, no starts. */
async function selectDue(api: ApiHarness, tenantId: string, clock: () => Date): Promise<{ due: DueRenewal[]; pages: number }> {
  const due: DueRenewal[] = [];
  let after: DueCursor | null = null;
  let pages = 0;
  for (;;) {
    const page: readonly DueRenewal[] = await withTenant(api.db.app, { tenantId, actor: 'system:renewal-run' }, async (tx) => {
      const tenant = (await findTenant(tx, tenantId))!;
      return dueRenewals(tx, tenant, dateIn(tenant.timeZone, clock()), after, RUN_PAGE);
    });
    pages += 1;
    if (page.length === 0) return { due, pages };
    due.push(...page);
    const last = page.at(-1)!;
    after = { endsOn: last.endsOn, memberId: last.memberId };
  }
}

/** `count` starts of the no-op workflow with a renewal's options, START_CONCURRENCY at a time as the run starts them. */
async function startNoops(client: Client, tenantId: string, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < ids.length; i += START_CONCURRENCY) {
    await Promise.all(ids.slice(i, i + START_CONCURRENCY).map((workflowId, j) => client.workflow.start('noopRenewal', {
      workflowId, taskQueue: NOOP_QUEUE, workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [{ tenantId, memberId: `noop-${i + j}`, termNumber: 1, startedBy: 'schedule' } satisfies MemberRenewalInput],
      typedSearchAttributes: [
        { key: TenantId, value: tenantId }, { key: MemberId, value: `noop-${i + j}` },
        { key: MemberStage, value: 'AwaitingRenewalPayment' }, { key: StageEnteredAt, value: new Date() },
      ],
    })));
  }
  return ids;
}

/** Terminations are not measured: more in flight than the run's starts, to be done sooner. */
const TERMINATE_CONCURRENCY = 128;

async function terminateAll(client: Client, ids: readonly string[]): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      await client.workflow.getHandle(id).terminate('benchmark finished').catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: TERMINATE_CONCURRENCY }, lane));
}

/**
 * The daily renewal run (activity startDueRenewals) at this size, with the harness worker shut
 * down so only the starting is measured: first the selection alone (dueRenewals pages, no
 * starts), then the same number of starts of a no-op workflow with the run's concurrency (the
 * baseline, first so that any slowing of Temporal as its store grows falls on the run), then the
 * whole run through the activity itself (in a mock activity context, its clock set to the day
 * picked). Afterwards every workflow started is terminated before a worker polls again.
 */
export async function benchRenewalRun(api: ApiHarness, members: number, log: (line: string) => void): Promise<RenewalRunSection> {
  const tenant = await tenantOf(api);
  const { today, candidates } = await pickDay(api, tenant, members);
  // Noon in Kathmandu on the day picked: the same calendar day in the party's zone.
  const at = new Date(`${today}T12:00:00+05:45`);
  const clock = () => at;
  return api.withoutWorker(async () => {
    log(`renewal run: selection as of ${today}`);
    const selection = await timed(() => selectDue(api, tenant.id, clock));
    const due = selection.value.due;
    const prefix = `bench-noop-renewal-${Date.now()}`;
    const warmUp = await startNoops(api.client, tenant.id, `${prefix}-warm`, START_CONCURRENCY * 2);
    log(`renewal run: ${due.length} no-op starts`);
    const noop = await timed(() => startNoops(api.client, tenant.id, prefix, due.length));
    log(`renewal run: the run (${due.length} due)`);
    const activities = createRenewalActivities({ ...api.deps, clock }, api.client);
    const run = await timed((): Promise<RenewalRunReport> => new MockActivityEnvironment().run(() => activities.startDueRenewals()));
    const ids = [...warmUp, ...noop.value, ...due.map((d) => renewalWorkflowId(tenant.id, d.memberId, d.termNumber))];
    log(`renewal run: terminate ${ids.length} workflows`);
    const terminated = await timed(() => terminateAll(api.client, ids));
    const runRate = run.value.started / (run.ms / 1000);
    const noopRate = due.length / (noop.ms / 1000);
    return {
      members, today, candidates, due: due.length,
      selection: { ms: Math.round(selection.ms), pages: selection.value.pages, duePerSecond: round(due.length / (selection.ms / 1000), 0) },
      run: { ms: Math.round(run.ms), started: run.value.started, alreadyStarted: run.value.alreadyStarted, startsPerSecond: round(runRate, 1) },
      noop: { ms: Math.round(noop.ms), started: due.length, startsPerSecond: round(noopRate, 1) },
      ratio: ratio(runRate, noopRate),
      terminated: { count: ids.length, ms: Math.round(terminated.ms) },
    };
  });
}

export function renewalRunMarkdown(s: RenewalRunSection): string[] {
  const near = s.candidates.find((c) => c.day === s.today)!;
  return [
    '', `## Daily renewal run at ${s.members.toLocaleString('en')} members`, '',
    `The run's activity (\`startDueRenewals\`: pages of ${RUN_PAGE} due members, ${START_CONCURRENCY} workflow starts in flight) with its clock on ${s.today}, the day whose share of due members is nearest a twelfth (${s.due.toLocaleString('en')} due, ${(near.share * 100).toFixed(2)} %; imported members' terms end on their registration anniversaries). No worker polled the task queue, so only selecting and starting are measured; the baseline is the same number of starts of a no-op workflow with the same options and concurrency, on the same Temporal server. All ${s.terminated.count.toLocaleString('en')} workflows started were terminated afterwards (${(s.terminated.ms / 1000).toFixed(1)} s).`, '',
    '| | members due | ms | due/s or workflows started/s |', '| --- | --- | --- | --- |',
    `| selection alone (dueRenewals, ${s.selection.pages} pages, no starts) | ${s.due} | ${s.selection.ms} | ${s.selection.duePerSecond} |`,
    `| whole run (selection + renewal starts; ${s.run.started} started, ${s.run.alreadyStarted} already started) | ${s.due} | ${s.run.ms} | ${s.run.startsPerSecond} |`,
    `| no-op workflow starts (baseline) | ${s.noop.started} | ${s.noop.ms} | ${s.noop.startsPerSecond} |`,
    `| **ratio** (run / no-op) | | | **${s.ratio}** |`,
    '', `Share of members due by day: ${s.candidates.map((c) => `${c.day} ${(c.share * 100).toFixed(2)} %`).join(', ')}.`,
  ];
}
