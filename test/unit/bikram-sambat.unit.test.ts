import { addMonths, adToBs, BS_FIRST_YEAR, BS_LAST_YEAR, BS_VERIFIED_THROUGH_YEAR, bsMonthLength, bsToAd, CalendarRangeError, fiscalYearOf, formatPartyDate } from '../../src/calendar/bikram-sambat.ts';
import { formatMemberNumber, numberYearOf } from '../../src/members/member-number.ts';

/**
 * Published dates: Nepali New Year (1 Baisakh) and the start of the fiscal year (1 Shrawan),
 * as the Government of Nepal announced them. The conversion table is "verified through" the
 * last year listed here (BS_VERIFIED_THROUGH_YEAR).
 */
const NEW_YEARS: [number, string][] = [[2078, '2021-04-14'], [2079, '2022-04-14'], [2080, '2023-04-14'], [2081, '2024-04-13'], [2082, '2025-04-14'], [2083, '2026-04-14']];
const FISCAL_YEAR_STARTS: [number, string][] = [[2078, '2021-07-16'], [2079, '2022-07-17'], [2080, '2023-07-17'], [2081, '2024-07-16'], [2082, '2025-07-17'], [2083, '2026-07-17']];

test.each(NEW_YEARS)('1 Baisakh %i BS is %s AD, both ways', (year, ad) => {
  expect(bsToAd({ year, month: 1, day: 1 })).toBe(ad);
  expect(adToBs(ad)).toEqual({ year, month: 1, day: 1 });
});

test.each(FISCAL_YEAR_STARTS)('1 Shrawan %i BS (the fiscal year starts) is %s AD, both ways', (year, ad) => {
  expect(bsToAd({ year, month: 4, day: 1 })).toBe(ad);
  expect(adToBs(ad)).toEqual({ year, month: 4, day: 1 });
  expect(fiscalYearOf(ad)).toBe(`${year}/${String((year + 1) % 100).padStart(2, '0')}`);
});

test('the day before 1 Shrawan is the last day of Asar, whatever its length, and belongs to the previous fiscal year', () => {
  for (const [year, ad] of FISCAL_YEAR_STARTS) {
    const eve = new Date(Date.parse(ad) - 86_400_000).toISOString().slice(0, 10);
    expect(adToBs(eve)).toEqual({ year, month: 3, day: bsMonthLength(year, 3) });
    expect(fiscalYearOf(eve)).toBe(`${year - 1}/${String(year % 100).padStart(2, '0')}`);
  }
  // Asar 2081 has 31 days, Asar 2079 has 32: month ends move, and the table says where.
  expect([bsMonthLength(2081, 3), bsMonthLength(2079, 3)]).toEqual([31, 32]);
  expect(bsToAd({ year: 2079, month: 3, day: 32 })).toBe('2022-07-16');
});

test('every month of the table is 29 to 32 days, and every year 365 or 366; each month end and the next day convert back and forth', () => {
  for (let year = BS_FIRST_YEAR; year <= BS_LAST_YEAR; year++) {
    let days = 0;
    for (let month = 1; month <= 12; month++) {
      const length = bsMonthLength(year, month);
      expect(length).toBeGreaterThanOrEqual(29);
      expect(length).toBeLessThanOrEqual(32);
      days += length;
      const end = bsToAd({ year, month, day: length });
      expect(adToBs(end)).toEqual({ year, month, day: length });
      const next = new Date(Date.parse(end) + 86_400_000).toISOString().slice(0, 10);
      if (year < BS_LAST_YEAR || month < 12) expect(adToBs(next)).toEqual(month === 12 ? { year: year + 1, month: 1, day: 1 } : { year, month: month + 1, day: 1 });
    }
    expect([365, 366]).toContain(days);
  }
  expect(BS_VERIFIED_THROUGH_YEAR).toBeLessThanOrEqual(BS_LAST_YEAR);
});

test('a day a month does not have, a malformed date, and a year past the table are refused', () => {
  expect(() => bsToAd({ year: 2081, month: 3, day: 32 })).toThrow(/Asar 2081 BS has 31 days, not 32/);
  expect(() => bsToAd({ year: 2081, month: 13, day: 1 })).toThrow(CalendarRangeError);
  expect(() => adToBs('2024-02-30')).toThrow(/not a date/);
  expect(() => bsToAd({ year: BS_LAST_YEAR + 1, month: 1, day: 1 })).toThrow(/outside the calendar table/);
  expect(() => adToBs('1900-01-01')).toThrow(/outside the calendar table/);
});

test('a term of twelve months ends on the same day of the next BS year, or on the month end when that month is shorter', () => {
  expect(addMonths('2024-07-16', 12, 'BS')).toBe('2025-07-17'); // 1 Shrawan 2081 -> 1 Shrawan 2082
  expect(adToBs(addMonths('2022-07-16', 1, 'BS'))).toEqual({ year: 2079, month: 4, day: 31 }); // 32 Asar -> Shrawan has 31
  expect(addMonths('2024-01-31', 1, 'AD')).toBe('2024-02-29');
  expect(addMonths('2024-02-29', 12, 'AD')).toBe('2025-02-28');
});

test('dates are shown in the party calendar, in English or Nepali', () => {
  expect(formatPartyDate('2024-07-16', 'BS')).toBe('1 Shrawan 2081 BS');
  expect(formatPartyDate('2024-07-16', 'BS', 'ne')).toBe('१ साउन २०८१');
  expect(formatPartyDate('2024-07-16', 'AD')).toBe('2024-07-16');
  expect(formatPartyDate('2024-07-16', 'AD', 'ne')).toBe('२०२४-०७-१६');
});

test("a member number's year is the party calendar's: the BS year turns on 1 Baisakh, the AD year on 1 January", () => {
  for (const [year, ad] of NEW_YEARS) {
    expect(numberYearOf(ad, 'BS')).toBe(year);
    expect(numberYearOf(addDaysAd(ad, -1), 'BS')).toBe(year - 1);
  }
  expect(numberYearOf('2026-01-01', 'AD')).toBe(2026);
  expect(numberYearOf('2025-12-31', 'AD')).toBe(2025);
  expect(formatMemberNumber('UML', numberYearOf('2026-04-14', 'BS'), 'F', 7n)).toBe('UML-2083-F-000007');
});

function addDaysAd(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
