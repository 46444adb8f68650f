import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { addDays, standingOn, type Standing } from '../terms/standing.ts';
import { dateIn, termsOf, type MemberTerm } from '../terms/term-ledger.ts';
import type { Tenant } from '../tenants/tenants.ts';
import type { RenewalOutcome } from './renewal-contract.ts';

/**
 * Renewals as rows (migrations/0028): which members are due, the member_renewals row of each
 * renewal, and the run report. The workflow and its activities decide; this reads and writes.
 */

/** A member whose renewal is due: their last term, when it ends, and the day the renewal fell due. */
export interface DueRenewal {
  memberId: string;
  termNumber: number;
  endsOn: string;
  dueOn: string;
}

const DueRow = z.object({ memberId: z.string(), termNumber: z.number(), endsOn: z.string(), dueOn: z.string() });

/** Where the next page of due members starts (keyset: the term's end, then the member). */
export interface DueCursor {
  endsOn: string;
  memberId: string;
}

/**
 * One page of the members whose renewal is due on `today` and has not been started: admitted
 * and not gone (active or suspended), whose last term ends within the party's notice, and who
 * have no member_renewals row for that term. Terms that ended before the grace period and the
 * reinstatement window could still matter are not looked at (docs/membership.md "Renewal"), so
 * the scan stays proportional to the members in their renewal window, not to every term ever
 * paid.
 */
export async function dueRenewals(tx: TenantTransaction, tenant: Pick<Tenant, 'renewalNoticeDays' | 'gracePeriodDays' | 'reinstatementWindowDays'>,
  today: string, after: DueCursor | null, limit: number): Promise<readonly DueRenewal[]> {
  const until = addDays(today, tenant.renewalNoticeDays);
  const from = addDays(today, -(tenant.gracePeriodDays + tenant.reinstatementWindowDays));
  const cursor = after ? sql.fragment`AND (t.ends_on, t.member_id) > (${after.endsOn}::date, ${after.memberId}::uuid)` : sql.fragment``;
  return tx.any(sql.type(DueRow)`
    SELECT t.member_id AS "memberId", t.term_number AS "termNumber", to_char(t.ends_on, 'YYYY-MM-DD') AS "endsOn",
           to_char(t.ends_on - ${tenant.renewalNoticeDays}::int, 'YYYY-MM-DD') AS "dueOn"
    FROM member_terms t
    JOIN members m ON m.id = t.member_id
    WHERE t.ends_on <= ${until}::date AND t.ends_on > ${from}::date ${cursor}
      AND m.status IN ('active', 'suspended')
      AND NOT EXISTS (SELECT 1 FROM member_terms later WHERE later.member_id = t.member_id AND later.term_number > t.term_number)
      AND NOT EXISTS (SELECT 1 FROM member_renewals r WHERE r.member_id = t.member_id AND r.term_number = t.term_number)
    ORDER BY t.ends_on, t.member_id
    LIMIT ${limit}`);
}

/** The dates a renewal turns on, from the ledger and the party's rules, and the instants they start in the party's zone. */
export interface RenewalDates {
  standing: Standing;
  lastTerm: MemberTerm;
  /** Midnight in the party's zone on paid-until (the invoice's due date), paid-until + grace (the lapse), and the end of the reinstatement window. */
  dueAt: string;
  lapsesAt: string;
  closesAt: string;
}

const Instants = z.object({ dueAt: z.number(), lapsesAt: z.number(), closesAt: z.number() });

/** @returns null when the member has no term. */
export async function renewalDates(tx: TenantTransaction, tenant: Pick<Tenant, 'timeZone' | 'gracePeriodDays' | 'reinstatementWindowDays'>, memberId: string,
  now: Date): Promise<RenewalDates | null> {
  const terms = await termsOf(tx, memberId);
  const lastTerm = terms.at(-1);
  if (!lastTerm) return null;
  const standing = standingOn(terms, tenant, dateIn(tenant.timeZone, now));
  // Every term counts here, a later one bought in advance too: the renewal is of the member's paid-until.
  const paidUntil = terms.reduce((max, t) => (t.endsOn > max ? t.endsOn : max), lastTerm.endsOn);
  const graceUntil = addDays(paidUntil, tenant.gracePeriodDays);
  const closesOn = addDays(graceUntil, tenant.reinstatementWindowDays);
  const instants = await tx.one(sql.type(Instants)`
    SELECT (${paidUntil}::date::timestamp AT TIME ZONE ${tenant.timeZone}) AS "dueAt",
           (${graceUntil}::date::timestamp AT TIME ZONE ${tenant.timeZone}) AS "lapsesAt",
           (${closesOn}::date::timestamp AT TIME ZONE ${tenant.timeZone}) AS "closesAt"`);
  const iso = (ms: number) => new Date(ms).toISOString();
  return { standing: { ...standing, paidUntil, graceUntil, reinstatableUntil: closesOn }, lastTerm, dueAt: iso(instants.dueAt), lapsesAt: iso(instants.lapsesAt), closesAt: iso(instants.closesAt) };
}

export interface RenewalRow {
  tenantId: string;
  memberId: string;
  termNumber: number;
  workflowId: string;
  /** The member's paid-until date when the renewal started (the date it extends). */
  paidUntil: string;
  startedBy: string;
}

/** Records that the renewal of this term has begun (or finds the row an earlier attempt wrote), with its invoice. */
export async function recordRenewalStarted(tx: TenantTransaction, row: RenewalRow, invoiceId: string | null): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO member_renewals (tenant_id, member_id, term_number, workflow_id, paid_until, started_by, invoice_id)
    VALUES (${row.tenantId}, ${row.memberId}, ${row.termNumber}, ${row.workflowId}, ${row.paidUntil}::date, ${row.startedBy}, ${invoiceId})
    ON CONFLICT (tenant_id, member_id, term_number) DO UPDATE SET invoice_id = coalesce(member_renewals.invoice_id, excluded.invoice_id)`);
}

const Outcome = z.object({ outcome: z.string().nullable() });

/** Where the renewal ended (or waits), as recorded. */
export async function renewalOutcomeOf(tx: TenantTransaction, workflowId: string): Promise<string | null> {
  return (await tx.maybeOneFirst(sql.type(Outcome)`SELECT outcome FROM member_renewals WHERE workflow_id = ${workflowId}`)) ?? null;
}

/** Sets where the renewal ended (or, for `lapsed`, where it waits). */
export async function recordRenewalOutcome(tx: TenantTransaction, workflowId: string, outcome: RenewalOutcome | 'lapsed'): Promise<void> {
  await tx.query(sql.unsafe`UPDATE member_renewals SET outcome = ${outcome}, outcome_at = clock_timestamp() WHERE workflow_id = ${workflowId}`);
}

export interface RunCounts {
  runOn: string;
  startedAt: Date;
  finishedAt: Date;
  due: number;
  started: number;
  alreadyStarted: number;
}

export async function recordRenewalRun(tx: TenantTransaction, tenantId: string, run: RunCounts): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO renewal_runs (tenant_id, run_on, started_at, finished_at, due, started, already_started)
    VALUES (${tenantId}, ${run.runOn}::date, ${run.startedAt.toISOString()}, ${run.finishedAt.toISOString()}, ${run.due}, ${run.started}, ${run.alreadyStarted})`);
}

const ReportRow = z.object({
  runs: z.number(), due: z.number(), started: z.number(), alreadyStarted: z.number(),
  renewed: z.number(), reinstated: z.number(), lapsed: z.number(), closed: z.number(), notDue: z.number(), open: z.number(),
  paidMinor: z.number(),
});
export type RenewalReport = z.infer<typeof ReportRow>;

/**
 * The party's renewals over [from, to] (its own days): the runs and what they found, and where
 * the renewals started in those days stand now, with the renewal payments they took.
 */
export async function renewalReport(tx: TenantTransaction, timeZone: string, from: string, to: string): Promise<RenewalReport> {
  return tx.one(sql.type(ReportRow)`
    WITH runs AS (
      SELECT count(*)::int AS runs, coalesce(sum(due), 0)::int AS due, coalesce(sum(started), 0)::int AS started,
             coalesce(sum(already_started), 0)::int AS "alreadyStarted"
      FROM renewal_runs WHERE run_on BETWEEN ${from}::date AND ${to}::date
    ), renewals AS (
      SELECT r.*, i.amount_minor, i.status AS invoice_status
      FROM member_renewals r LEFT JOIN invoices i ON i.id = r.invoice_id
      WHERE (r.started_at AT TIME ZONE ${timeZone})::date BETWEEN ${from}::date AND ${to}::date
    )
    SELECT runs.*,
           (SELECT count(*) FILTER (WHERE outcome = 'renewed') FROM renewals)::int AS renewed,
           (SELECT count(*) FILTER (WHERE outcome = 'reinstated') FROM renewals)::int AS reinstated,
           (SELECT count(*) FILTER (WHERE outcome = 'lapsed') FROM renewals)::int AS lapsed,
           (SELECT count(*) FILTER (WHERE outcome = 'closed') FROM renewals)::int AS closed,
           (SELECT count(*) FILTER (WHERE outcome = 'not_due') FROM renewals)::int AS "notDue",
           (SELECT count(*) FILTER (WHERE outcome IS NULL) FROM renewals)::int AS open,
           (SELECT coalesce(sum(amount_minor) FILTER (WHERE invoice_status = 'paid'), 0) FROM renewals)::float8 AS "paidMinor"
    FROM runs`);
}

const LapseRow = z.object({
  memberNumber: z.string().nullable(), status: z.string(), lapsedOn: z.string(), paidUntil: z.string().nullable(),
  reinstatableUntil: z.string().nullable(), ward: z.string(),
});
export type LapseReportRow = z.infer<typeof LapseRow>;

/**
 * The members who lapsed in [from, to] (the party's days, from their MemberTermLapsed events),
 * with where they stand now: still lapsed (and until when they can be reinstated), reinstated, or gone.
 */
export async function lapseReport(tx: TenantTransaction, timeZone: string, from: string, to: string): Promise<readonly LapseReportRow[]> {
  return tx.any(sql.type(LapseRow)`
    SELECT m.member_number AS "memberNumber", m.status::text AS status, to_char((e.recorded_at AT TIME ZONE ${timeZone})::date, 'YYYY-MM-DD') AS "lapsedOn",
           to_char(s.paid_until, 'YYYY-MM-DD') AS "paidUntil", to_char(s.reinstatable_until, 'YYYY-MM-DD') AS "reinstatableUntil",
           coalesce(p.name_en || ' ', '') || w.name_en AS ward
    FROM event_store e
    JOIN members m ON m.id = e.aggregate_id
    JOIN geography_nodes w ON w.id = m.ward_id
    LEFT JOIN geography_nodes p ON p.id = w.parent_id
    CROSS JOIN LATERAL member_term_standing(m.id, (now() AT TIME ZONE ${timeZone})::date) AS s
    WHERE e.aggregate_type = 'Member' AND e.event_type = 'MemberTermLapsed'
      AND (e.recorded_at AT TIME ZONE ${timeZone})::date BETWEEN ${from}::date AND ${to}::date
    ORDER BY e.recorded_at, m.member_number`);
}
