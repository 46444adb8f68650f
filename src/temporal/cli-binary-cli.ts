import { config, toolSearchPaths } from '../config.ts';
import { findTemporalCli } from './cli-binary.ts';

/** `npm run temporal:install`: finds or builds the Temporal CLI and prints where it is. */
try {
  const executable = findTemporalCli({ explicitPath: config().TEMPORAL_CLI_PATH, ...toolSearchPaths(), log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(executable.type === 'existing-path' ? `Temporal CLI: ${executable.path}\n` : 'Temporal CLI: the SDK will download its dev server\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
