import { randomUUID } from 'node:crypto';
import { sql, UniqueIntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { enterTenant, type TenantTransaction } from '../db/tenant-context.ts';
import type { Keyring } from './keyring.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import { MembershipSettingsSchema } from './membership-settings.ts';

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const durationMs = z.number().int().min(1_000).max(366 * 24 * 3600 * 1000);

export const NewTenantSchema = z
  .object({
    slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'lowercase letters, digits and hyphens, 1-40 characters'),
    name: z.string().trim().min(1).max(200),
    memberNumberPrefix: z.string().regex(/^[A-Z]{2,8}$/, '2-8 capital letters'),
    feeSchedule: z.object({ currency: z.string().regex(/^[A-Z]{3}$/), admissionFeeMinor: z.number().int().min(0) }),
    approvalReminderAfterMs: durationMs.default(3 * 24 * 3600 * 1000),
    approvalEscalationAfterMs: durationMs.default(7 * 24 * 3600 * 1000),
    paymentWindowMs: durationMs.default(14 * 24 * 3600 * 1000),
    timeZone: z
      .string()
      .default('Asia/Kathmandu')
      .refine(isTimeZone, 'unknown time zone'),
  })
  .refine((t) => t.approvalEscalationAfterMs > t.approvalReminderAfterMs, {
    path: ['approvalEscalationAfterMs'],
    message: 'must be longer than approvalReminderAfterMs',
  });

export type NewTenant = z.input<typeof NewTenantSchema>;

export const TenantSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  memberNumberPrefix: z.string(),
  feeSchedule: z.object({ currency: z.string(), admissionFeeMinor: z.number() }),
  approvalReminderAfterMs: z.number(),
  approvalEscalationAfterMs: z.number(),
  paymentWindowMs: z.number(),
  cardValidityMs: z.number(),
  timeZone: z.string(),
  ...MembershipSettingsSchema.shape,
});
export type Tenant = z.infer<typeof TenantSchema>;

export const selectTenant = sql.fragment`
  SELECT id, slug, name, member_number_prefix AS "memberNumberPrefix", fee_schedule AS "feeSchedule",
         (extract(epoch FROM approval_reminder_after) * 1000)::float8 AS "approvalReminderAfterMs",
         (extract(epoch FROM approval_escalation_after) * 1000)::float8 AS "approvalEscalationAfterMs",
         (extract(epoch FROM payment_window) * 1000)::float8 AS "paymentWindowMs",
         (extract(epoch FROM card_validity) * 1000)::float8 AS "cardValidityMs",
         time_zone AS "timeZone",
         term_length_months AS "termLengthMonths",
         coalesce(renewal_fee_minor, (fee_schedule ->> 'admissionFeeMinor')::bigint)::float8 AS "renewalFeeMinor",
         renewal_notice_days AS "renewalNoticeDays", grace_period_days AS "gracePeriodDays",
         reinstatement_window_days AS "reinstatementWindowDays", calendar, dues_split AS "duesSplit"
  FROM tenants`;

function interval(ms: number) {
  return sql.fragment`make_interval(secs => ${ms / 1000})`;
}

export class SlugTakenError extends DomainError {
  override readonly name = 'SlugTakenError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('SLUG_TAKEN', message, { ...options, field: options?.field ?? 'slug' });
  }
}

/**
 * Creates a tenant with its own keys and member-number sequence, in one transaction.
 * @throws ZodError naming the bad field; SlugTakenError when another party has the slug.
 */
export async function createTenant(pool: DatabasePool, keyring: Keyring, input: NewTenant, actor: string): Promise<Tenant> {
  const t = NewTenantSchema.parse(input);
  return insertTenant(pool, keyring, t, actor).catch((err: unknown) => {
    if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'tenants_slug_key') {
      throw new SlugTakenError(`a party with slug "${t.slug}" already exists`);
    }
    throw err;
  });
}

async function insertTenant(pool: DatabasePool, keyring: Keyring, t: z.output<typeof NewTenantSchema>, actor: string): Promise<Tenant> {
  return pool.transaction(async (tx) => {
    // Bound before the insert, so the audit row of the new party names who created it.
    const id = randomUUID();
    await enterTenant(tx, { tenantId: id, actor });
    await tx.query(sql.unsafe`
      INSERT INTO tenants (id, slug, name, member_number_prefix, fee_schedule, approval_reminder_after,
                           approval_escalation_after, payment_window, time_zone)
      VALUES (${id}, ${t.slug}, ${t.name}, ${t.memberNumberPrefix}, ${sql.jsonb(t.feeSchedule)},
              ${interval(t.approvalReminderAfterMs)}, ${interval(t.approvalEscalationAfterMs)},
              ${interval(t.paymentWindowMs)}, ${t.timeZone})`);
    await keyring.provision(tx, id);
    return tx.one(sql.type(TenantSchema)`${selectTenant} WHERE id = ${id}`);
  });
}

export async function findTenantBySlug(db: DatabasePool | TenantTransaction, slug: string): Promise<Tenant | null> {
  return db.maybeOne(sql.type(TenantSchema)`${selectTenant} WHERE slug = ${slug}`);
}

export async function findTenant(db: DatabasePool | TenantTransaction, id: string): Promise<Tenant | null> {
  return db.maybeOne(sql.type(TenantSchema)`${selectTenant} WHERE id = ${id}`);
}

export const TenantSummarySchema = z.object({ id: z.string(), slug: z.string(), name: z.string() });

/** Every party by slug and name, for the platform operator. */
export async function listTenants(db: DatabasePool): Promise<readonly z.infer<typeof TenantSummarySchema>[]> {
  return db.any(sql.type(TenantSummarySchema)`SELECT id, slug, name FROM tenants ORDER BY slug`);
}
