import { sql } from 'slonik';
import { z } from 'zod';
import { adToBs } from '../calendar/bikram-sambat.ts';
import { dateIn } from '../terms/term-ledger.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';

export type GenderCode = 'M' | 'F' | 'O';

/**
 * `<PREFIX>-<YEAR>-<GENDER>-<6+ digits>`, e.g. `UML-2083-M-000001`; grows past 6 digits after
 * 999,999. The year is the party's calendar's (numberYearOf).
 */
export function formatMemberNumber(prefix: string, year: number, gender: GenderCode, sequence: bigint): string {
  return `${prefix}-${year}-${gender}-${sequence.toString().padStart(6, '0')}`;
}

export function yearIn(timeZone: string, at: Date): number {
  return Number(new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric' }).format(at));
}

/**
 * The year a member number carries for a day (YYYY-MM-DD, AD) in the party's calendar: the
 * Bikram Sambat year (2082 for 2026-01-01) in a BS party, the AD year in an AD one.
 */
export function numberYearOf(day: string, calendar: 'BS' | 'AD'): number {
  return calendar === 'BS' ? adToBs(day).year : Number(day.slice(0, 4));
}

const Row = z.object({ memberNumber: z.string().nullable(), gender: z.enum(['M', 'F', 'O']) });

/**
 * Gives the member a number from the tenant's sequence, once: a member who already has one
 * keeps it, so a retried activation changes nothing. Sequences are not transactional: a
 * rolled-back activation leaves a gap, never a duplicate.
 * @throws Error when the member does not exist in the transaction's tenant.
 */
export async function assignMemberNumber(
  tx: TenantTransaction,
  memberId: string,
  tenant: { memberNumberPrefix: string; timeZone: string; calendar: 'BS' | 'AD' },
  at: Date,
): Promise<string> {
  const member = await tx.maybeOne(sql.type(Row)`
    SELECT member_number AS "memberNumber", gender FROM members WHERE id = ${memberId} FOR UPDATE`);
  if (!member) throw new Error(`member ${memberId} not found`);
  if (member.memberNumber) return member.memberNumber;
  const sequence = await tx.oneFirst(sql.type(z.object({ n: z.bigint() }))`SELECT next_member_number() AS n`);
  const number = formatMemberNumber(tenant.memberNumberPrefix, numberYearOf(dateIn(tenant.timeZone, at), tenant.calendar), member.gender, sequence);
  await tx.query(sql.unsafe`
    UPDATE members SET member_number = ${number}, member_number_assigned_at = ${at.toISOString()}, updated_at = now()
    WHERE id = ${memberId}`);
  return number;
}
