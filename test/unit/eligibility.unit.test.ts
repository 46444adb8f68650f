import { isOfAge, nepalDate } from '../../src/members/eligibility.ts';

test('an age turns on the birthday, in Nepal', () => {
  expect(isOfAge('2008-12-05', '2026-12-05')).toBe(true);
  expect(isOfAge('2008-12-06', '2026-12-05')).toBe(false);
  expect(isOfAge('1950-01-01', '2026-12-05')).toBe(true);
  // Born on 29 February: 18 on 1 March of a common year, not on 28 February.
  expect(isOfAge('2008-02-29', '2026-02-28')).toBe(false);
  expect(isOfAge('2008-02-29', '2026-03-01')).toBe(true);
  // 18:30 UTC on 4 December is 00:15 on 5 December in Kathmandu (UTC+05:45).
  expect(nepalDate(new Date('2026-12-04T18:30:00Z'))).toBe('2026-12-05');
  expect(nepalDate(new Date('2026-12-04T18:00:00Z'))).toBe('2026-12-04');
});
