import { z } from 'zod';
import { CommitteeError } from '../../committees/committee-error.ts';
import { UsageError, type CliCommand } from '../command.ts';
import { describeIssues } from './flags.ts';

/** A failure the operator can act on: its message is printed without a stack, exit code 1. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
}

function explain(err: unknown, flagOf: (field: string) => string): { message: string; exitCode: number } | null {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (err instanceof z.ZodError) return { message: describeIssues(err, flagOf), exitCode: 2 };
  if (err instanceof CommitteeError) return { message: `${flagOf(err.field)}: ${err.detail}`, exitCode: 1 };
  if (err instanceof OperatorError) return { message: err.message, exitCode: 1 };
  return null;
}

/**
 * A CLI command whose known failures become one message on stderr: usage and input errors
 * exit 2, business failures exit 1; anything else propagates to main (stack trace, exit 1).
 * `fieldFlags` names domain input fields by the flag they came from.
 */
export function operatorCommand(summary: string, run: (args: string[]) => Promise<void>, fieldFlags: Record<string, string> = {}): CliCommand {
  const flagOf = (field: string) => fieldFlags[field] ?? field;
  return {
    summary,
    async run(args) {
      try {
        await run(args);
      } catch (err) {
        const known = explain(err, flagOf);
        if (!known) throw err;
        process.stderr.write(`${known.message}\n`);
        process.exitCode = known.exitCode;
      }
    },
  };
}
