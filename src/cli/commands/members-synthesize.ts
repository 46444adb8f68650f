import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { writeSyntheticMembers } from '../../imports/synthetic-members.ts';
import { loadActiveWards } from '../../imports/wards.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { requireTenant, withApplicationPool } from './operator-session.ts';

const USAGE = `Usage: npm run cli -- members:synthesize --tenant <slug> --count <rows> --out <file.csv> [--seed 1]
       Writes made-up members for members:import, spread over the stored wards; the same seed gives the same file.`;

const OPTIONS = { tenant: { type: 'string' }, count: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } } as const;

const wholeNumber = (max: number) =>
  z.string().regex(/^\d{1,10}$/, 'a whole number').transform(Number).refine((n) => n <= max, `at most ${max}`);

const Flags = z.object({
  tenant: requiredFlag,
  count: requiredFlag.pipe(wholeNumber(10_000_000)).refine((n) => n > 0, 'at least 1'),
  out: requiredFlag,
  seed: wholeNumber(4_294_967_295).default(1),
});

async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, OPTIONS, Flags, USAGE);
  const { tenant, wards } = await withApplicationPool('members:synthesize', async (pool) => ({
    tenant: await requireTenant(pool, flags.tenant),
    wards: await loadActiveWards(pool),
  }));
  if (wards.length === 0) throw new OperatorError('no wards are stored: import the geography first (geography:import)');
  const started = performance.now();
  await writeSyntheticMembers(flags.out, { count: flags.count, seed: flags.seed, wards, memberNumberPrefix: tenant.memberNumberPrefix });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`Wrote ${flags.count} members over ${wards.length} wards to ${flags.out} (seed ${flags.seed}) in ${seconds.toFixed(1)} s\n`);
}

export const membersSynthesize = operatorCommand('Write a CSV of made-up members (Nepali names, unique mobiles) for members:import', run);
