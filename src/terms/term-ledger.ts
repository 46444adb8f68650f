import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { addMonths } from '../calendar/bikram-sambat.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { MembershipSettings } from '../tenants/membership-settings.ts';
import { nextTermStart, standingOn, type Standing, type StandingRules, type TermSpan } from './standing.ts';

/** How a term was bought: see migrations/0026 (member_terms.source). */
export type TermSource = 'admission' | 'renewal' | 'import' | 'waiver';

export interface MemberTerm extends TermSpan {
  id: string;
  memberId: string;
  paymentId: string | null;
  waived: boolean;
  source: TermSource | 'backfill';
}

const TermRow = z.object({
  id: z.string(),
  memberId: z.string(),
  termNumber: z.number().int(),
  startsOn: z.string(),
  endsOn: z.string(),
  paymentId: z.string().nullable(),
  waived: z.boolean(),
  source: z.enum(['admission', 'renewal', 'import', 'waiver', 'backfill']),
});

const selectTerm = sql.fragment`
  SELECT id, member_id AS "memberId", term_number AS "termNumber", to_char(starts_on, 'YYYY-MM-DD') AS "startsOn",
         to_char(ends_on, 'YYYY-MM-DD') AS "endsOn", payment_id AS "paymentId", waived, source
  FROM member_terms`;

/** The member's terms in order (the ledger; never changed, only added to). */
export async function termsOf(tx: TenantTransaction, memberId: string): Promise<readonly MemberTerm[]> {
  return tx.any(sql.type(TermRow)`${selectTerm} WHERE member_id = ${memberId} ORDER BY term_number`);
}

/** Today's date (YYYY-MM-DD) in a time zone. */
export function dateIn(timeZone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** The span of a term starting on `startsOn`, as long as the party's term, counted in its calendar. */
export function termSpan(settings: Pick<MembershipSettings, 'termLengthMonths' | 'calendar'>, startsOn: string): { startsOn: string; endsOn: string } {
  return { startsOn, endsOn: addMonths(startsOn, settings.termLengthMonths, settings.calendar) };
}

/**
 * The first term of an imported member. An import file carries no payments, but its
 * registered_at is the day the party's renewals count from: the term runs from the day of the
 * import to the first anniversary of registration (a whole number of terms, in the party's
 * calendar) after it, so members keep the renewal date they had. Without registered_at, a full
 * term from the day of the import.
 */
export function importedTermSpan(settings: Pick<MembershipSettings, 'termLengthMonths' | 'calendar'>, importDay: string, registeredOn: string | null): { startsOn: string; endsOn: string } {
  if (registeredOn === null || registeredOn >= importDay) return termSpan(settings, importDay);
  const [ry, rm] = registeredOn.split('-').map(Number) as [number, number];
  const [iy, im] = importDay.split('-').map(Number) as [number, number];
  // Whole terms since registration, estimated from the months between, then stepped past the import day.
  let terms = Math.max(1, Math.floor(((iy - ry) * 12 + (im - rm)) / settings.termLengthMonths) - 1);
  let endsOn = addMonths(registeredOn, terms * settings.termLengthMonths, settings.calendar);
  while (endsOn <= importDay) endsOn = addMonths(registeredOn, ++terms * settings.termLengthMonths, settings.calendar);
  return { startsOn: importDay, endsOn };
}

export interface TermPurchase {
  tenantId: string;
  memberId: string;
  /** One term per key: a retried step finds the term its first attempt recorded. */
  idempotencyKey: string;
  /** The day the term was paid for (or waived), in the party's time zone. */
  paidOn: string;
  paymentId: string | null;
  waived: boolean;
  source: TermSource;
  recordedBy: string;
}

/**
 * The next term a purchase would record: numbered after the member's last, starting on the
 * paid-until date when it has not passed (an early renewal extends the term) or on the day
 * paid, as long as the party's term. Nothing is written.
 */
export async function planTerm(tx: TenantTransaction, settings: Pick<MembershipSettings, 'termLengthMonths' | 'calendar'>, purchase: Pick<TermPurchase, 'memberId' | 'paidOn'>): Promise<TermSpan & { id: string }> {
  const terms = await termsOf(tx, purchase.memberId);
  const span = termSpan(settings, nextTermStart(terms, purchase.paidOn));
  return { id: randomUUID(), termNumber: (terms.at(-1)?.termNumber ?? 0) + 1, ...span };
}

/**
 * Appends a planned term to the ledger, or finds the one recorded under the same key. Two
 * purchases racing for the same member cannot both land: the term number is unique per member
 * and terms may not overlap (migrations/0026), so the loser's transaction fails and its retry
 * plans after the winner's term.
 */
export async function appendTerm(tx: TenantTransaction, purchase: TermPurchase, term: TermSpan & { id: string }): Promise<MemberTerm> {
  const inserted = await tx.maybeOne(sql.type(TermRow)`
    WITH created AS (
      INSERT INTO member_terms (id, tenant_id, member_id, term_number, starts_on, ends_on, payment_id, waived, source, idempotency_key, recorded_by)
      VALUES (${term.id}, ${purchase.tenantId}, ${purchase.memberId}, ${term.termNumber}, ${term.startsOn}::date, ${term.endsOn}::date,
              ${purchase.paymentId}, ${purchase.waived}, ${purchase.source}, ${purchase.idempotencyKey}, ${purchase.recordedBy})
      ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
      RETURNING *
    )
    SELECT id, member_id AS "memberId", term_number AS "termNumber", to_char(starts_on, 'YYYY-MM-DD') AS "startsOn",
           to_char(ends_on, 'YYYY-MM-DD') AS "endsOn", payment_id AS "paymentId", waived, source
    FROM created`);
  return inserted ?? tx.one(sql.type(TermRow)`${selectTerm} WHERE idempotency_key = ${purchase.idempotencyKey}`);
}

/** Where the member stands on a day (default: today in the party's zone), from the ledger. */
export async function memberStanding(tx: TenantTransaction, memberId: string, rules: StandingRules, onDate: string): Promise<Standing> {
  return standingOn(await termsOf(tx, memberId), rules, onDate);
}

const SqlStanding = z.object({
  standing: z.enum(['none', 'current', 'grace', 'lapsed']),
  termNumber: z.number().nullable(),
  paidUntil: z.string().nullable(),
  graceUntil: z.string().nullable(),
  reinstatableUntil: z.string().nullable(),
});

/** The same answer from the database's function (member_term_standing), for SQL readers and to check the two agree. */
export async function memberStandingInSql(tx: TenantTransaction, memberId: string, onDate: string): Promise<z.infer<typeof SqlStanding>> {
  return tx.one(sql.type(SqlStanding)`
    SELECT standing, term_number AS "termNumber", to_char(paid_until, 'YYYY-MM-DD') AS "paidUntil",
           to_char(grace_until, 'YYYY-MM-DD') AS "graceUntil", to_char(reinstatable_until, 'YYYY-MM-DD') AS "reinstatableUntil"
    FROM member_term_standing(${memberId}, ${onDate}::date)`);
}
