import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { z } from 'zod';
import { UsageError } from '../command.ts';

/** A flag that must be given, with a non-blank value. */
export const requiredFlag = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'needs a value') })
  .trim()
  .min(1, 'needs a value');

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `15m`, `12h`, `3d` → milliseconds. */
export const durationFlag = z
  .string()
  .regex(/^\d{1,9}[smhd]$/, 'a duration like 90s, 15m, 12h or 3d')
  .transform((value) => Number(value.slice(0, -1)) * UNIT_MS[value.slice(-1) as keyof typeof UNIT_MS]);

/** A whole amount in the currency's minor unit (paisa for NPR). */
export const minorUnitsFlag = requiredFlag
  .regex(/^\d{1,12}$/, 'a whole number of minor units, e.g. 50000 for NPR 500.00')
  .transform(Number);

/** One line per issue, each starting with the name `label` gives the issue's path. */
export function describeIssues(error: z.ZodError, label: (path: string) => string): string {
  return error.issues.map((issue) => `${label(issue.path.map(String).join('.'))}: ${issue.message}`).join('\n');
}

/**
 * Reads `--flag value` arguments with util.parseArgs (unknown flags and positionals are
 * refused), then checks them with `schema`, whose keys are the flag names.
 * @throws UsageError naming the flag, followed by the command's usage line.
 */
export function parseFlags<S extends z.ZodType>(args: string[], options: ParseArgsOptionsConfig, schema: S, usage: string): z.output<S> {
  let values: unknown;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
  const result = schema.safeParse(values);
  if (!result.success) throw new UsageError(`${describeIssues(result.error, (path) => `--${path.split('.')[0] ?? path}`)}\n${usage}`);
  return result.data;
}
