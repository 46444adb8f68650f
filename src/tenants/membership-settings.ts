import { z } from 'zod';

/**
 * A party's term and dues settings (docs/membership.md "Terms and dues"), as stored on its row
 * (migrations/0026) with these defaults: a 12-month term, the renewal invoice 30 days before
 * the term ends, 60 days of grace, reinstatement with the same number within 365 days of the
 * lapse, dates shown in Bikram Sambat, and dues split national 40 / province 20 / district 20 /
 * local level 20.
 */
export const DUES_LEVELS = ['national', 'province', 'district', 'localLevel'] as const;
export type DuesLevel = (typeof DUES_LEVELS)[number];

export const CALENDARS = ['BS', 'AD'] as const;
export type PartyCalendar = (typeof CALENDARS)[number];

const share = z.number().int('a whole percent').min(0).max(100);

/** Each level's share of every payment, in whole percent, summing to 100. */
export const DuesSplitSchema = z
  .object({ national: share, province: share, district: share, localLevel: share })
  .strict()
  .superRefine((split, ctx) => {
    const total = DUES_LEVELS.reduce((sum, level) => sum + split[level], 0);
    if (total !== 100) {
      ctx.addIssue({ code: 'custom', message: `the shares must sum to 100, not ${total} (${DUES_LEVELS.map((l) => `${l} ${split[l]}`).join(', ')})` });
    }
  });
export type DuesSplit = z.infer<typeof DuesSplitSchema>;

export const DEFAULT_DUES_SPLIT: DuesSplit = { national: 40, province: 20, district: 20, localLevel: 20 };

export const MembershipSettingsSchema = z.object({
  termLengthMonths: z.number().int().min(1).max(120),
  /** Minor units; the admission fee unless the party set its own. */
  renewalFeeMinor: z.number().int().min(0).max(1e12),
  renewalNoticeDays: z.number().int().min(0).max(365),
  gracePeriodDays: z.number().int().min(0).max(365),
  reinstatementWindowDays: z.number().int().min(0).max(3660),
  calendar: z.enum(CALENDARS),
  duesSplit: DuesSplitSchema,
});
export type MembershipSettings = z.infer<typeof MembershipSettingsSchema>;

/** The shortest a term of `months` months can be, in days: the renewal notice must fit inside it. */
export const shortestTermDays = (months: number) => months * 29;
