import { dateConfigMap } from 'nepali-date-converter';

/**
 * Bikram Sambat (BS) <-> Gregorian (AD) dates, from the month lengths table of the npm package
 * `nepali-date-converter` (MIT), pinned to an exact version in package.json: BS months run 29
 * to 32 days and follow no formula, so the table is the calendar. Only the table is used; the
 * arithmetic here counts whole days from one anchor (1 Baisakh 2000 BS = 1943-04-14 AD) on
 * UTC calendar dates, so no time zone or clock can shift a date.
 *
 * Verified through 2083 BS: test/unit/bikram-sambat.unit.test.ts checks New Year (1 Baisakh)
 * and fiscal-year start (1 Shrawan) of 2078-2083 BS against published dates, and month ends
 * around them. The table itself reaches 2090 BS (mid-April 2034 AD); dates past it are refused.
 */

export interface BsDate {
  year: number;
  /** 1 = Baisakh ... 4 = Shrawan ... 12 = Chaitra. */
  month: number;
  day: number;
}

/** The package version whose table this module reads; a new version is verified before it is pinned. */
export const BS_TABLE_SOURCE = 'nepali-date-converter@3.4.0';
export const BS_VERIFIED_THROUGH_YEAR = 2083;

export const BS_MONTH_NAMES = ['Baisakh', 'Jestha', 'Asar', 'Shrawan', 'Bhadra', 'Ashwin', 'Kartik', 'Mangsir', 'Poush', 'Magh', 'Falgun', 'Chaitra'] as const;
const BS_MONTH_NAMES_NE = ['बैशाख', 'जेठ', 'असार', 'साउन', 'भदौ', 'असोज', 'कार्तिक', 'मंसिर', 'पुष', 'माघ', 'फागुन', 'चैत'] as const;

const DAY_MS = 86_400_000;
const ANCHOR_AD_MS = Date.UTC(1943, 3, 14);
/** The first AD day the table covers (1 Baisakh of its first year). */
export const BS_TABLE_FIRST_AD_DAY = '1943-04-14';

const table = dateConfigMap as unknown as Record<string, Record<string, number>>;
/** Month lengths by BS year, in month order. */
const MONTH_LENGTHS = new Map<number, number[]>(
  Object.entries(table).map(([year, months]) => [Number(year), Object.values(months)]),
);
export const BS_FIRST_YEAR = Math.min(...MONTH_LENGTHS.keys());
export const BS_LAST_YEAR = Math.max(...MONTH_LENGTHS.keys());

/** Days from the anchor to 1 Baisakh of each year. */
const YEAR_STARTS = new Map<number, number>();
{
  let days = 0;
  for (let year = BS_FIRST_YEAR; year <= BS_LAST_YEAR; year++) {
    const lengths = MONTH_LENGTHS.get(year);
    if (lengths?.length !== 12 || lengths.some((n) => !Number.isInteger(n) || n < 29 || n > 32)) {
      throw new Error(`${BS_TABLE_SOURCE}: year ${year} BS has no valid twelve months`);
    }
    YEAR_STARTS.set(year, days);
    days += lengths.reduce((sum, n) => sum + n, 0);
  }
}
const TABLE_DAYS = [...MONTH_LENGTHS.values()].flat().reduce((sum, n) => sum + n, 0);

export class CalendarRangeError extends RangeError {
  override readonly name = 'CalendarRangeError';
}

/** The length of a BS month, 29 to 32 days. @throws CalendarRangeError outside the table. */
export function bsMonthLength(year: number, month: number): number {
  const lengths = MONTH_LENGTHS.get(year);
  if (!lengths) throw new CalendarRangeError(`${year} BS is outside the calendar table (${BS_FIRST_YEAR}-${BS_LAST_YEAR} BS)`);
  const length = lengths[month - 1];
  if (length === undefined || !Number.isInteger(month)) throw new CalendarRangeError(`month ${month} is not 1-12`);
  return length;
}

function parseAd(date: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (!match || new Date(ms).toISOString().slice(0, 10) !== date) throw new CalendarRangeError(`"${date}" is not a date (YYYY-MM-DD)`);
  return ms;
}

/** The BS date of an AD date (YYYY-MM-DD). @throws CalendarRangeError for a malformed date or one outside the table. */
export function adToBs(date: string): BsDate {
  const total = Math.round((parseAd(date) - ANCHOR_AD_MS) / DAY_MS);
  if (total < 0 || total >= TABLE_DAYS) throw new CalendarRangeError(`${date} AD is outside the calendar table (${BS_FIRST_YEAR}-${BS_LAST_YEAR} BS)`);
  let year = BS_FIRST_YEAR;
  while (year < BS_LAST_YEAR && YEAR_STARTS.get(year + 1)! <= total) year++;
  let days = total - YEAR_STARTS.get(year)!;
  const lengths = MONTH_LENGTHS.get(year)!;
  for (let month = 1; ; month++) {
    const length = lengths[month - 1]!;
    if (days < length) return { year, month, day: days + 1 };
    days -= length;
  }
}

/** The AD date (YYYY-MM-DD) of a BS date. @throws CalendarRangeError for a day the month does not have, or a year outside the table. */
export function bsToAd(date: BsDate): string {
  const length = bsMonthLength(date.year, date.month);
  if (!Number.isInteger(date.day) || date.day < 1 || date.day > length) {
    throw new CalendarRangeError(`${BS_MONTH_NAMES[date.month - 1]} ${date.year} BS has ${length} days, not ${date.day}`);
  }
  const lengths = MONTH_LENGTHS.get(date.year)!;
  const days = YEAR_STARTS.get(date.year)! + lengths.slice(0, date.month - 1).reduce((sum, n) => sum + n, 0) + date.day - 1;
  return new Date(ANCHOR_AD_MS + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * `months` months after an AD date, counted in the given calendar; a day the target month does
 * not have becomes that month's last day (32 Asar + 1 month = 31 or 32 Shrawan, as Shrawan has).
 */
export function addMonths(date: string, months: number, calendar: 'BS' | 'AD'): string {
  if (calendar === 'AD') {
    const ms = parseAd(date);
    const start = new Date(ms);
    const target = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + months, 1));
    const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
    target.setUTCDate(Math.min(start.getUTCDate(), lastDay));
    return target.toISOString().slice(0, 10);
  }
  const bs = adToBs(date);
  const index = bs.year * 12 + (bs.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return bsToAd({ year, month, day: Math.min(bs.day, bsMonthLength(year, month)) });
}

/** The fiscal year (1 Shrawan to the end of Asar) an AD date falls in, e.g. "2081/82". */
export function fiscalYearOf(date: string): string {
  const bs = adToBs(date);
  const first = bs.month >= 4 ? bs.year : bs.year - 1;
  return `${first}/${String((first + 1) % 100).padStart(2, '0')}`;
}

const DEVANAGARI_DIGITS = '०१२३४५६७८९';
const devanagari = (text: string) => text.replace(/\d/g, (d) => DEVANAGARI_DIGITS[Number(d)]!);

/**
 * An AD date as the party shows it: in its calendar, in English or Nepali. BS: "2 Shrawan 2081 BS"
 * or "२ साउन २०८१"; AD: "2024-07-17" or "२०२४-०७-१७". For emails and cards.
 */
export function formatPartyDate(date: string, calendar: 'BS' | 'AD', language: 'en' | 'ne' = 'en'): string {
  if (calendar === 'AD') {
    parseAd(date);
    return language === 'ne' ? devanagari(date) : date;
  }
  const bs = adToBs(date);
  return language === 'ne'
    ? devanagari(`${bs.day} ${BS_MONTH_NAMES_NE[bs.month - 1]} ${bs.year}`)
    : `${bs.day} ${BS_MONTH_NAMES[bs.month - 1]} ${bs.year} BS`;
}
