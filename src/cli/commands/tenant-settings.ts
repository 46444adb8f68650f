import { z } from 'zod';
import { withOwnerPool } from '../../backup/owner-pool.ts';
import { changeTenantSettings, TenantSettingsError, TenantSettingsSchema, type PartySettings, type TenantSettings } from '../../tenants/tenant-settings.ts';
import { durationFlag, parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- tenant:settings --tenant <slug> [--fee <minor units>] [--currency NPR] [--reminder 3d]
         [--escalation 7d] [--payment-window 14d] [--card-validity 1826d] [--transfer-window 30d]
         [--time-zone Asia/Kathmandu]`;

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
} as const;

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
  'Change a party\'s fee, approval reminder and escalation, payment window, card validity, transfer window or time zone, as the owner role (audited)',
  run,
  FIELD_FLAGS,
);
