import { z } from 'zod';
import { config, ConfigError } from '../../config.ts';
import { configuredKeyring, type Keyring } from '../../tenants/keyring.ts';
import { createTenant, NewTenantSchema, SlugTakenError, type NewTenant, type Tenant } from '../../tenants/tenants.ts';
import { durationFlag, minorUnitsFlag, parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, withApplicationPool } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- tenant:create --slug <slug> --name <name> --prefix <PREFIX> --fee <minor units>
         [--currency NPR] [--reminder 3d] [--escalation 7d] [--payment-window 14d] [--time-zone Asia/Kathmandu]`;

const OPTIONS = {
  slug: { type: 'string' },
  name: { type: 'string' },
  prefix: { type: 'string' },
  fee: { type: 'string' },
  currency: { type: 'string' },
  reminder: { type: 'string' },
  escalation: { type: 'string' },
  'payment-window': { type: 'string' },
  'time-zone': { type: 'string' },
} as const;

const Flags = z.object({
  slug: requiredFlag,
  name: requiredFlag,
  prefix: requiredFlag,
  fee: minorUnitsFlag,
  currency: z.string().default('NPR'),
  reminder: durationFlag.optional(),
  escalation: durationFlag.optional(),
  'payment-window': durationFlag.optional(),
  'time-zone': z.string().optional(),
});

const FIELD_FLAGS = {
  slug: '--slug',
  name: '--name',
  memberNumberPrefix: '--prefix',
  'feeSchedule.admissionFeeMinor': '--fee',
  'feeSchedule.currency': '--currency',
  approvalReminderAfterMs: '--reminder',
  approvalEscalationAfterMs: '--escalation',
  paymentWindowMs: '--payment-window',
  timeZone: '--time-zone',
};

function days(ms: number): string {
  return `${+(ms / 86_400_000).toFixed(3)}d`;
}

function describe(tenant: Tenant): string {
  const fee = tenant.feeSchedule;
  return [
    `Created party ${tenant.slug} (${tenant.name}), id ${tenant.id}`,
    `  member numbers  ${tenant.memberNumberPrefix}-<year>-<gender>-<number>`,
    `  admission fee   ${fee.admissionFeeMinor} ${fee.currency} minor units`,
    `  approval        reminder after ${days(tenant.approvalReminderAfterMs)}, escalation after ${days(tenant.approvalEscalationAfterMs)}`,
    `  payment window  ${days(tenant.paymentWindowMs)}`,
    `  time zone       ${tenant.timeZone}`,
  ].join('\n');
}

/** @throws ConfigError when the master key is missing (production) or malformed. */
function masterKeyring(): Keyring {
  try {
    return configuredKeyring(config());
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${(err as Error).message}: tenant:create wraps the party's keys with it`);
  }
}

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const input: NewTenant = {
    slug: flags.slug,
    name: flags.name,
    memberNumberPrefix: flags.prefix,
    feeSchedule: { currency: flags.currency, admissionFeeMinor: flags.fee },
    approvalReminderAfterMs: flags.reminder,
    approvalEscalationAfterMs: flags.escalation,
    paymentWindowMs: flags['payment-window'],
    timeZone: flags['time-zone'],
  };
  NewTenantSchema.parse(input);
  const keyring = masterKeyring();
  const tenant = await withApplicationPool('tenant:create', (pool) =>
    createTenant(pool, keyring, input, operatorActor()).catch((err: unknown) => {
      if (err instanceof SlugTakenError) {
        throw new OperatorError(`--slug: a party with slug "${flags.slug}" already exists`);
      }
      throw err;
    }),
  );
  process.stdout.write(`${describe(tenant)}\n`);
}

export const tenantCreate = operatorCommand('Create a party (tenant) with its own keys and member-number sequence', run, FIELD_FLAGS);
