/**
 * Good standing, derived from the term ledger when it is read: the same rule as the SQL function
 * member_term_standing (migrations/0026), so a status no job moved along can never be stale.
 * Pure: dates are AD calendar dates (YYYY-MM-DD) in the party's time zone.
 */

export type TermStanding = 'none' | 'current' | 'grace' | 'lapsed';

/** One row of the ledger: the term covers [startsOn, endsOn); endsOn is the first day it no longer covers. */
export interface TermSpan {
  termNumber: number;
  startsOn: string;
  endsOn: string;
}

export interface StandingRules {
  gracePeriodDays: number;
  reinstatementWindowDays: number;
}

export interface Standing {
  standing: TermStanding;
  /** Current or in grace: the member is in good standing (as far as dues go). */
  inGoodStanding: boolean;
  termNumber: number | null;
  /** The first day no term covers (terms that started by the day asked about). */
  paidUntil: string | null;
  /** The first day of the lapse: paidUntil + grace period. */
  graceUntil: string | null;
  /** The first day a lapsed member can no longer be reinstated with the same number. */
  reinstatableUntil: string | null;
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** Where the member stands on `onDate`. Only terms that started by then count. */
export function standingOn(terms: readonly TermSpan[], rules: StandingRules, onDate: string): Standing {
  const started = terms.filter((t) => t.startsOn <= onDate);
  if (started.length === 0) {
    return { standing: 'none', inGoodStanding: false, termNumber: null, paidUntil: null, graceUntil: null, reinstatableUntil: null };
  }
  const paidUntil = started.reduce((max, t) => (t.endsOn > max ? t.endsOn : max), started[0]!.endsOn);
  const termNumber = Math.max(...started.map((t) => t.termNumber));
  const graceUntil = addDays(paidUntil, rules.gracePeriodDays);
  const reinstatableUntil = addDays(graceUntil, rules.reinstatementWindowDays);
  const standing: TermStanding = onDate < paidUntil ? 'current' : onDate < graceUntil ? 'grace' : 'lapsed';
  return { standing, inGoodStanding: standing !== 'lapsed', termNumber, paidUntil, graceUntil, reinstatableUntil };
}

/**
 * The span of the next term bought on `paidOn`: from the current paid-until date when it has
 * not passed (an early renewal extends the term, it loses no day), else from the day paid.
 */
export function nextTermStart(terms: readonly TermSpan[], paidOn: string): string {
  const paidUntil = terms.reduce<string | null>((max, t) => (max === null || t.endsOn > max ? t.endsOn : max), null);
  return paidUntil !== null && paidUntil > paidOn ? paidUntil : paidOn;
}
