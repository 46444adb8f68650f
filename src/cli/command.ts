/** One operator command, run as `npm run cli -- <name> [args]`. */
export interface CliCommand {
  summary: string;
  run(args: string[]): Promise<void>;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
