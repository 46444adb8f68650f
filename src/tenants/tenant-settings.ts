import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { enterTenant } from '../db/tenant-context.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import { DuesSplitSchema, MembershipSettingsSchema, shortestTermDays } from './membership-settings.ts';
import { isTimeZone, TenantSchema, selectTenant, type Tenant } from './tenants.ts';

const DAY_MS = 86_400_000;
const durationMs = z.number().int().min(1_000).max(366 * DAY_MS);

/**
 * The settings of a party an operator may change: each optional, at least one given. The
 * admission fee and its currency together make the fee schedule (a missing one keeps its value).
 */
export const TenantSettingsSchema = z
  .object({
    admissionFeeMinor: z.number().int().min(0).max(1e12).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'three capital letters, e.g. NPR').optional(),
    approvalReminderAfterMs: durationMs.optional(),
    approvalEscalationAfterMs: durationMs.optional(),
    paymentWindowMs: durationMs.optional(),
    cardValidityMs: z.number().int().min(DAY_MS).max(20 * 366 * DAY_MS).optional(),
    transferWindowMs: durationMs.optional(),
    timeZone: z.string().refine(isTimeZone, 'unknown time zone').optional(),
    termLengthMonths: MembershipSettingsSchema.shape.termLengthMonths.optional(),
    renewalFeeMinor: MembershipSettingsSchema.shape.renewalFeeMinor.optional(),
    renewalNoticeDays: MembershipSettingsSchema.shape.renewalNoticeDays.optional(),
    gracePeriodDays: MembershipSettingsSchema.shape.gracePeriodDays.optional(),
    reinstatementWindowDays: MembershipSettingsSchema.shape.reinstatementWindowDays.optional(),
    calendar: MembershipSettingsSchema.shape.calendar.optional(),
    duesSplit: DuesSplitSchema.optional(),
  })
  .strict()
  .refine((s) => Object.values(s).some((v) => v !== undefined), { message: 'give at least one setting to change' });
export type TenantSettings = z.input<typeof TenantSettingsSchema>;

export class TenantSettingsError extends DomainError {
  override readonly name = 'TenantSettingsError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('VALIDATION_FAILED', message, options);
  }
}

function interval(ms: number) {
  return sql.fragment`make_interval(secs => ${ms / 1000})`;
}

/**
 * A party as its settings show it: the tenant, and its transfer window (migrations/0027), read
 * apart so that code reading parties does not depend on that migration.
 */
export type PartySettings = Tenant & { transferWindowMs: number };

const TransferWindow = z.object({ ms: z.number() });

async function withTransferWindow(tx: Parameters<Parameters<DatabasePool['transaction']>[0]>[0], tenant: Tenant): Promise<PartySettings> {
  const ms = await tx.oneFirst(sql.type(TransferWindow)`SELECT (extract(epoch FROM transfer_window) * 1000)::float8 AS ms FROM tenants WHERE id = ${tenant.id}`);
  return { ...tenant, transferWindowMs: ms };
}

/**
 * Changes a party's settings as the owner role: the application role may not update `tenants`
 * (migration 0021). One transaction bound to the party with `actor`, so the audit trigger on
 * `tenants` records the old and new row and who changed it.
 * @throws ZodError naming the bad field; TenantSettingsError (field set) when the approval
 * escalation would no longer come after the reminder, or the renewal notice would not fit in the
 * shortest term; null when no party has the slug.
 */
export async function changeTenantSettings(owner: DatabasePool, slug: string, input: TenantSettings, actor: string): Promise<{ before: PartySettings; after: PartySettings } | null> {
  const s = TenantSettingsSchema.parse(input);
  return owner.transaction(async (tx) => {
    const before = await tx.maybeOne(sql.type(TenantSchema)`${selectTenant} WHERE slug = ${slug} FOR UPDATE`);
    if (!before) return null;
    const reminder = s.approvalReminderAfterMs ?? before.approvalReminderAfterMs;
    const escalation = s.approvalEscalationAfterMs ?? before.approvalEscalationAfterMs;
    if (escalation <= reminder) {
      const field = s.approvalEscalationAfterMs !== undefined ? 'approvalEscalationAfterMs' : 'approvalReminderAfterMs';
      throw new TenantSettingsError(`the approval escalation (${escalation / DAY_MS}d) must come after the reminder (${reminder / DAY_MS}d)`, { field });
    }
    const termMonths = s.termLengthMonths ?? before.termLengthMonths;
    const notice = s.renewalNoticeDays ?? before.renewalNoticeDays;
    if (notice >= shortestTermDays(termMonths)) {
      const field = s.renewalNoticeDays !== undefined ? 'renewalNoticeDays' : 'termLengthMonths';
      throw new TenantSettingsError(`the renewal notice (${notice} days) must be shorter than a term of ${termMonths} month(s)`, { field });
    }
    const fee = { currency: s.currency ?? before.feeSchedule.currency, admissionFeeMinor: s.admissionFeeMinor ?? before.feeSchedule.admissionFeeMinor };
    const set = [
      s.admissionFeeMinor !== undefined || s.currency !== undefined ? sql.fragment`fee_schedule = fee_schedule || ${sql.jsonb(fee)}` : null,
      s.approvalReminderAfterMs !== undefined ? sql.fragment`approval_reminder_after = ${interval(s.approvalReminderAfterMs)}` : null,
      s.approvalEscalationAfterMs !== undefined ? sql.fragment`approval_escalation_after = ${interval(s.approvalEscalationAfterMs)}` : null,
      s.paymentWindowMs !== undefined ? sql.fragment`payment_window = ${interval(s.paymentWindowMs)}` : null,
      s.cardValidityMs !== undefined ? sql.fragment`card_validity = ${interval(s.cardValidityMs)}` : null,
      s.transferWindowMs !== undefined ? sql.fragment`transfer_window = ${interval(s.transferWindowMs)}` : null,
      s.timeZone !== undefined ? sql.fragment`time_zone = ${s.timeZone}` : null,
      s.termLengthMonths !== undefined ? sql.fragment`term_length_months = ${s.termLengthMonths}` : null,
      s.renewalFeeMinor !== undefined ? sql.fragment`renewal_fee_minor = ${s.renewalFeeMinor}` : null,
      s.renewalNoticeDays !== undefined ? sql.fragment`renewal_notice_days = ${s.renewalNoticeDays}` : null,
      s.gracePeriodDays !== undefined ? sql.fragment`grace_period_days = ${s.gracePeriodDays}` : null,
      s.reinstatementWindowDays !== undefined ? sql.fragment`reinstatement_window_days = ${s.reinstatementWindowDays}` : null,
      s.calendar !== undefined ? sql.fragment`calendar = ${s.calendar}` : null,
      s.duesSplit !== undefined ? sql.fragment`dues_split = ${sql.jsonb(s.duesSplit)}` : null,
    ].filter((fragment) => fragment !== null);
    const previous = await withTransferWindow(tx, before);
    await enterTenant(tx, { tenantId: before.id, actor });
    await tx.query(sql.unsafe`UPDATE tenants SET ${sql.join(set, sql.fragment`, `)} WHERE id = ${before.id}`);
    const after = await tx.one(sql.type(TenantSchema)`${selectTenant} WHERE id = ${before.id}`);
    return { before: previous, after: await withTransferWindow(tx, after) };
  });
}
