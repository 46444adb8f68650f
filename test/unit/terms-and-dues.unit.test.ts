import { splitDues } from '../../src/finance/dues-split.ts';
import { standingOn, nextTermStart, type TermSpan } from '../../src/terms/standing.ts';
import { importedTermSpan } from '../../src/terms/term-ledger.ts';
import { DuesSplitSchema } from '../../src/tenants/membership-settings.ts';
import { TenantSettingsSchema } from '../../src/tenants/tenant-settings.ts';

const rules = { gracePeriodDays: 60, reinstatementWindowDays: 365 };
const first: TermSpan = { termNumber: 1, startsOn: '2025-07-17', endsOn: '2026-07-17' };

describe('standing, derived from the term ledger', () => {
  test('current until paid-until, then grace for the grace period, then lapsed; reinstatable for the window after', () => {
    expect(standingOn([first], rules, '2025-07-16')).toMatchObject({ standing: 'none', inGoodStanding: false, paidUntil: null });
    expect(standingOn([first], rules, '2025-07-17')).toMatchObject({ standing: 'current', inGoodStanding: true, termNumber: 1, paidUntil: '2026-07-17' });
    expect(standingOn([first], rules, '2026-07-16')).toMatchObject({ standing: 'current' });
    expect(standingOn([first], rules, '2026-07-17')).toMatchObject({ standing: 'grace', inGoodStanding: true, graceUntil: '2026-09-15' });
    expect(standingOn([first], rules, '2026-09-14')).toMatchObject({ standing: 'grace' });
    expect(standingOn([first], rules, '2026-09-15')).toMatchObject({ standing: 'lapsed', inGoodStanding: false, reinstatableUntil: '2027-09-15' });
  });

  test('an early renewal extends from paid-until: no day is lost, and the second term counts from then', () => {
    expect(nextTermStart([first], '2026-06-20')).toBe('2026-07-17');
    const second: TermSpan = { termNumber: 2, startsOn: '2026-07-17', endsOn: '2027-07-17' };
    expect(standingOn([first, second], rules, '2026-08-01')).toMatchObject({ standing: 'current', termNumber: 2, paidUntil: '2027-07-17' });
    // Asked about a day before the second term began, the answer is what it was then.
    expect(standingOn([first, second], rules, '2026-07-01')).toMatchObject({ standing: 'current', termNumber: 1, paidUntil: '2026-07-17' });
  });

  test('a renewal after paid-until starts on the day paid; the gap stays a gap', () => {
    expect(nextTermStart([first], '2026-08-10')).toBe('2026-08-10');
    const late: TermSpan = { termNumber: 2, startsOn: '2026-08-10', endsOn: '2027-08-10' };
    expect(standingOn([first, late], rules, '2026-08-01')).toMatchObject({ standing: 'grace', termNumber: 1 });
    expect(standingOn([first, late], rules, '2026-08-10')).toMatchObject({ standing: 'current', termNumber: 2 });
    expect(nextTermStart([], '2026-08-10')).toBe('2026-08-10');
  });
});

test("an imported member's first term runs from the import to the next registration anniversary, or a full term", () => {
  const ad = { termLengthMonths: 12, calendar: 'AD' as const };
  expect(importedTermSpan(ad, '2026-12-04', '2020-03-01')).toEqual({ startsOn: '2026-12-04', endsOn: '2027-03-01' });
  expect(importedTermSpan(ad, '2026-12-04', '2020-12-04')).toEqual({ startsOn: '2026-12-04', endsOn: '2027-12-04' });
  expect(importedTermSpan(ad, '2026-12-04', '2026-12-03')).toEqual({ startsOn: '2026-12-04', endsOn: '2027-12-03' });
  expect(importedTermSpan(ad, '2026-12-04', null)).toEqual({ startsOn: '2026-12-04', endsOn: '2027-12-04' });
  expect(importedTermSpan({ termLengthMonths: 24, calendar: 'AD' }, '2026-12-04', '2021-01-15')).toEqual({ startsOn: '2026-12-04', endsOn: '2027-01-15' });
  expect(importedTermSpan({ termLengthMonths: 24, calendar: 'AD' }, '2026-12-04', '2022-01-15')).toEqual({ startsOn: '2026-12-04', endsOn: '2028-01-15' });
  // 1 Shrawan 2075 BS (2018-07-17): renewals fall on 1 Shrawan.
  expect(importedTermSpan({ termLengthMonths: 12, calendar: 'BS' }, '2026-12-04', '2018-07-17')).toEqual({ startsOn: '2026-12-04', endsOn: '2027-07-17' });
});

describe('the dues split', () => {
  const split = { national: 40, province: 20, district: 20, localLevel: 20 };
  const sum = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);

  test('10001 paisa: the one paisa left over goes to the national level (largest remainder, national first on a tie)', () => {
    expect(splitDues(10_001, split)).toEqual({ national: 4001, province: 2000, district: 2000, localLevel: 2000 });
  });

  test('awkward amounts and shares always sum exactly to the payment', () => {
    const splits = [split, { national: 33, province: 33, district: 17, localLevel: 17 }, { national: 1, province: 1, district: 1, localLevel: 97 }, { national: 100, province: 0, district: 0, localLevel: 0 }];
    for (const s of splits) {
      for (const amount of [0, 1, 2, 3, 7, 99, 101, 9_999, 10_001, 33_333, 1_000_000_007, 2 ** 53 - 1]) {
        const parts = splitDues(amount, s);
        expect(sum(parts)).toBe(amount);
        // Each part is within one minor unit of its exact share (compared in integers: amount × share / 100).
        for (const level of Object.keys(s) as (keyof typeof s)[]) {
          const off = BigInt(parts[level]) * 100n - BigInt(amount) * BigInt(s[level]);
          expect(off > -100n && off < 100n).toBe(true);
        }
      }
    }
    expect(splitDues(3, { national: 33, province: 33, district: 17, localLevel: 17 })).toEqual({ national: 1, province: 1, district: 1, localLevel: 0 });
  });
});

describe('settings validation', () => {
  test('a dues split must sum to 100, and the error names the field', () => {
    const result = TenantSettingsSchema.safeParse({ duesSplit: { national: 40, province: 20, district: 20, localLevel: 30 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['duesSplit', expect.stringMatching(/must sum to 100, not 110/)]]);
  });

  test('a share that is not a whole percent, a missing level and an unknown one are named', () => {
    const paths = (input: unknown) => DuesSplitSchema.safeParse(input).error?.issues.map((i) => i.path.join('.'));
    expect(paths({ national: 40.5, province: 19.5, district: 20, localLevel: 20 })).toEqual(['national', 'province']);
    expect(paths({ national: 40, province: 20, district: 40 })).toEqual(['localLevel']);
    expect(paths({ national: 40, province: 20, district: 20, localLevel: 20, ward: 0 })).toEqual(['']);
  });

  test('term settings have bounds, and calendars are BS or AD', () => {
    const fields = (input: unknown) => TenantSettingsSchema.safeParse(input).error?.issues.map((i) => i.path.join('.'));
    expect(fields({ termLengthMonths: 0 })).toEqual(['termLengthMonths']);
    expect(fields({ gracePeriodDays: -1 })).toEqual(['gracePeriodDays']);
    expect(fields({ renewalNoticeDays: 400 })).toEqual(['renewalNoticeDays']);
    expect(fields({ calendar: 'VS' })).toEqual(['calendar']);
    expect(TenantSettingsSchema.parse({ termLengthMonths: 12, calendar: 'AD', duesSplit: { national: 25, province: 25, district: 25, localLevel: 25 } })).toBeTruthy();
  });
});
