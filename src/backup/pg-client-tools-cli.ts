import { config, toolSearchPaths } from '../config.ts';
import { findPgClientTools } from './pg-client-tools.ts';

/** `npm run pg-tools:install`: finds or installs pg_dump and pg_restore 18 and prints where they are. */
try {
  const tools = await findPgClientTools({ explicitDir: config().PG_CLIENT_BIN_DIR, ...toolSearchPaths(), log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`pg_dump: ${tools.pgDump}\npg_restore: ${tools.pgRestore}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
