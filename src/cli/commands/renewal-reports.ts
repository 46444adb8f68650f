import { z } from 'zod';
import { withTenant } from '../../db/tenant-context.ts';
import { formatNpr } from '../../mail/templates.ts';
import { lapseReport, renewalReport } from '../../renewals/renewals.ts';
import { addDays } from '../../terms/standing.ts';
import { dateIn } from '../../terms/term-ledger.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool } from './operator-session.ts';

const OPTIONS = { tenant: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } as const;
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar day');
const Flags = z.object({ tenant: requiredFlag, from: day.optional(), to: day.optional() })
  .refine((f) => !f.from || !f.to || f.from <= f.to, { message: 'must not be after --to', path: ['from'] });

/** The party and the days asked about: by default the last 30 days up to today, in the party's zone. */
async function reportScope<T>(name: string, args: string[], work: (tx: Parameters<Parameters<typeof withTenant>[2]>[0], scope: { timeZone: string; from: string; to: string }) => Promise<T>) {
  const flags = parseFlags(args, OPTIONS, Flags, `Usage: npm run cli -- ${name} --tenant <slug> [--from YYYY-MM-DD] [--to YYYY-MM-DD]   (party days; default the last 30)`);
  return withApplicationPool(name, async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    const to = flags.to ?? dateIn(tenant.timeZone, new Date());
    const from = flags.from ?? addDays(to, -29);
    return { from, to, result: await withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => work(tx, { timeZone: tenant.timeZone, from, to })) };
  });
}

/** What the daily renewal runs found and started over the days, and where the renewals they started stand now. */
async function renewals(args: string[]): Promise<void> {
  const { from, to, result: r } = await reportScope('renewals:report', args, (tx, s) => renewalReport(tx, s.timeZone, s.from, s.to));
  process.stdout.write([
    `Renewals of ${from} to ${to}`,
    `  runs: ${r.runs}; members found due: ${r.due}; renewals started: ${r.started}; already started: ${r.alreadyStarted}`,
    `  renewals started in these days: renewed ${r.renewed}, reinstated ${r.reinstated}, lapsed ${r.lapsed}, closed ${r.closed}, not due ${r.notDue}, awaiting payment ${r.open}`,
    `  renewal payments: ${formatNpr(r.paidMinor)}`,
  ].join('\n') + '\n');
}

/** Each member who lapsed over the days, with where they stand now. */
async function lapses(args: string[]): Promise<void> {
  const { from, to, result: rows } = await reportScope('lapses:report', args, (tx, s) => lapseReport(tx, s.timeZone, s.from, s.to));
  const lines = [`Lapses of ${from} to ${to}: ${rows.length}`];
  for (const row of rows) {
    const now = row.status === 'lapsed' ? `still lapsed, reinstatable until ${row.reinstatableUntil}` : `now ${row.status}`;
    lines.push(`  ${row.memberNumber ?? '(no number)'}  lapsed ${row.lapsedOn}  paid until ${row.paidUntil}  ${row.ward}  ${now}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const renewalsReport = operatorCommand("What the daily renewal runs found and started, and where those renewals stand (renewed, lapsed, ...)", renewals);
export const lapsesReport = operatorCommand('The members who lapsed over some days, each with their paid-until date and where they stand now', lapses);
