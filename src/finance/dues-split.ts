import { DUES_LEVELS, type DuesLevel, type DuesSplit } from '../tenants/membership-settings.ts';

/**
 * The dues split of one payment: each level gets floor(amount × share / 100) minor units; the
 * few left over (at most three) go one each to the levels with the largest remainders, ties to
 * the earlier level in the order national, province, district, local level. The parts sum
 * exactly to the amount. The database applies the same rule (split_dues, migrations/0026) when
 * it records a payment; test/int/terms-and-dues.int.test.ts checks that the two agree.
 */
export function splitDues(amountMinor: number, split: DuesSplit): Record<DuesLevel, number> {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) throw new RangeError(`amount ${amountMinor} is not a whole number of minor units`);
  const amount = BigInt(amountMinor);
  const parts = DUES_LEVELS.map((level, position) => {
    const product = amount * BigInt(split[level]);
    return { level, position, base: product / 100n, remainder: product % 100n };
  });
  let leftOver = amount - parts.reduce((sum, p) => sum + p.base, 0n);
  const byRemainder = [...parts].sort((a, b) => (a.remainder === b.remainder ? a.position - b.position : a.remainder > b.remainder ? -1 : 1));
  for (const part of byRemainder) {
    if (leftOver === 0n) break;
    part.base += 1n;
    leftOver -= 1n;
  }
  return Object.fromEntries(parts.map((p) => [p.level, Number(p.base)])) as Record<DuesLevel, number>;
}
