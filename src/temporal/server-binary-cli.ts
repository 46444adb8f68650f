import { toolSearchPaths } from '../config.ts';
import { findTemporalServer } from './server-binary.ts';

/** `npm run temporal-server:install`: finds or builds the Temporal server and temporal-sql-tool (for the compose test) and prints where they are. */
try {
  const tools = findTemporalServer({ cacheHome: toolSearchPaths().cacheHome, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`Temporal server: ${tools.server}\ntemporal-sql-tool: ${tools.sqlTool}\nschema: ${tools.schemaDir}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
