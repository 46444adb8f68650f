import { z } from 'zod';
import { withOwnerPool } from '../../backup/owner-pool.ts';
import { changeTenantSettings, TenantSettingsError, TenantSettingsSchema, type PartySettings, type TenantSettings } from '../../tenants/tenant-settings.ts';
import { durationFlag, parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- tenant:settings --tenant <slug> [--fee <minor units>] [--currency NPR] [--reminder 3d]
         [--escalation 7d] [--payment-window 14d] [--card-validity 1826d] [--transfer-window 30d]
         [--time-zone Asia/Kathmandu]
         [--term-months 12] [--renewal-fee <minor units>] [--renewal-notice 30d] [--grace 60d]
         [--reinstatement-window 365d] [--calendar BS|AD]
         [--dues-split national=40,province=20,district=20,localLevel=20]`;

const OPTIONS = {
  tenant: { type: 'string' },
  fee: { type: 'string' },
  currency: { type: 'string' },
  reminder: { type: 'string' },
  escalation: { type: 'string' },
  'payment-window': { type: 'string' },
  'card-validity': { type: 'string' },
  'transfer-window': { type: 'string' },
  'time-zone': { type: 'string' },
  'term-months': { type: 'string' },
  'renewal-fee': { type: 'string' },
  'renewal-notice': { type: 'string' },
  grace: { type: 'string' },
  'reinstatement-window': { type: 'string' },
  calendar: { type: 'string' },
  'dues-split': { type: 'string' },
} as const;

/** A whole number of days, e.g. "30d" or "30". */
const daysFlag = z.string().regex(/^\d{1,4}d?$/, 'a whole number of days, e.g. 30d').transform((v) => Number.parseInt(v, 10));

/** "national=40,province=20,district=20,localLevel=20" (local_level and local-level also read). */
const splitFlag = z.string().transform((value, ctx) => {
  const split: Record<string, number> = {};
  for (const part of value.split(',')) {
    const match = /^\s*([A-Za-z_-]+)\s*=\s*(\d{1,3})\s*$/.exec(part);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `"${part}" is not level=percent (e.g. national=40)` });
      return z.NEVER;
    }
    split[match[1]!.replace(/^local[_-]level$/i, 'localLevel')] = Number(match[2]);
  }
  return split;
});

const Flags = z.object({
  tenant: requiredFlag,
  fee: z.string().regex(/^\d{1,12}$/, 'a whole number of minor units, e.g. 50000 for NPR 500.00').transform(Number).optional(),
  currency: z.string().optional(),
  reminder: durationFlag.optional(),
  escalation: durationFlag.optional(),
  'payment-window': durationFlag.optional(),
  'card-validity': durationFlag.optional(),
  'transfer-window': durationFlag.optional(),
  'time-zone': z.string().optional(),
  'term-months': z.string().regex(/^\d{1,3}$/, 'a whole number of months, e.g. 12').transform(Number).optional(),
  'renewal-fee': z.string().regex(/^\d{1,12}$/, 'a whole number of minor units, e.g. 50000 for NPR 500.00').transform(Number).optional(),
  'renewal-notice': daysFlag.optional(),
  grace: daysFlag.optional(),
  'reinstatement-window': daysFlag.optional(),
  calendar: z.string().transform((v) => v.toUpperCase()).optional(),
  'dues-split': splitFlag.optional(),
});

const FIELD_FLAGS = {
  '': 'tenant:settings',
  admissionFeeMinor: '--fee',
  currency: '--currency',
  approvalReminderAfterMs: '--reminder',
  approvalEscalationAfterMs: '--escalation',
  paymentWindowMs: '--payment-window',
  cardValidityMs: '--card-validity',
  transferWindowMs: '--transfer-window',
  timeZone: '--time-zone',
  termLengthMonths: '--term-months',
  renewalFeeMinor: '--renewal-fee',
  renewalNoticeDays: '--renewal-notice',
  gracePeriodDays: '--grace',
  reinstatementWindowDays: '--reinstatement-window',
  calendar: '--calendar',
  duesSplit: '--dues-split',
  'duesSplit.national': '--dues-split national',
  'duesSplit.province': '--dues-split province',
  'duesSplit.district': '--dues-split district',
  'duesSplit.localLevel': '--dues-split localLevel',
};

function days(ms: number): string {
  return `${+(ms / 86_400_000).toFixed(3)}d`;
}

function settingsOf(tenant: PartySettings): [string, string][] {
  return [
    ['admission fee', `${tenant.feeSchedule.admissionFeeMinor} ${tenant.feeSchedule.currency} minor units`],
    ['approval reminder', `after ${days(tenant.approvalReminderAfterMs)}`],
    ['approval escalation', `after ${days(tenant.approvalEscalationAfterMs)}`],
    ['payment window', days(tenant.paymentWindowMs)],
    ['card validity', days(tenant.cardValidityMs)],
    ['transfer window', days(tenant.transferWindowMs)],
    ['time zone', tenant.timeZone],
    ['term length', `${tenant.termLengthMonths} months`],
    ['renewal fee', `${tenant.renewalFeeMinor} ${tenant.feeSchedule.currency} minor units`],
    ['renewal notice', `${tenant.renewalNoticeDays}d before the term ends`],
    ['grace period', `${tenant.gracePeriodDays}d`],
    ['reinstatement', `within ${tenant.reinstatementWindowDays}d of the lapse`],
    ['calendar', tenant.calendar],
    ['dues split', `national ${tenant.duesSplit.national}, province ${tenant.duesSplit.province}, district ${tenant.duesSplit.district}, local level ${tenant.duesSplit.localLevel}`],
  ];
}

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const input: TenantSettings = {
    admissionFeeMinor: flags.fee,
    currency: flags.currency,
    approvalReminderAfterMs: flags.reminder,
    approvalEscalationAfterMs: flags.escalation,
    paymentWindowMs: flags['payment-window'],
    cardValidityMs: flags['card-validity'],
    transferWindowMs: flags['transfer-window'],
    timeZone: flags['time-zone'],
    termLengthMonths: flags['term-months'],
    renewalFeeMinor: flags['renewal-fee'],
    renewalNoticeDays: flags['renewal-notice'],
    gracePeriodDays: flags.grace,
    reinstatementWindowDays: flags['reinstatement-window'],
    calendar: flags.calendar as TenantSettings['calendar'],
    duesSplit: flags['dues-split'] as TenantSettings['duesSplit'],
  };
  // Checked before connecting: bad input changes nothing and needs no database.
  TenantSettingsSchema.parse(input);
  const changed = await withOwnerPool('tenant:settings', (pool) => changeTenantSettings(pool, flags.tenant, input, operatorActor())).catch((err: unknown) => {
    if (err instanceof TenantSettingsError) throw new OperatorError(`${FIELD_FLAGS[err.field as keyof typeof FIELD_FLAGS] ?? err.field}: ${err.message}; nothing was changed`);
    throw err;
  });
  if (!changed) throw new OperatorError(`--tenant: no party with slug "${flags.tenant}"`);
  const before = new Map(settingsOf(changed.before));
  const lines = settingsOf(changed.after).map(([name, value]) =>
    `  ${name.padEnd(20)} ${value}${before.get(name) === value ? '' : `  (was ${before.get(name)})`}`);
  process.stdout.write(`Settings of party ${changed.after.slug} (${changed.after.id}), changed as ${operatorActor()}:\n${lines.join('\n')}\n`);
}

export const tenantSettings = operatorCommand(
  'Change a party\'s fee, approval reminder and escalation, payment window, card validity, transfer window, time zone, or its terms (length, renewal fee and notice, grace, reinstatement window, calendar, dues split), as the owner role (audited)',
  run,
  FIELD_FLAGS,
);
