import { config, requireSettings } from '../config.ts';
import { describeShippedGeography, ensureShippedGeography } from '../geography/shipped.ts';
import { migrate } from './migrate.ts';

/**
 * `npm run migrate`: applies pending migrations to DATABASE_OWNER_URL, then imports the
 * geography shipped with the product when the database holds none; starts no server.
 */
async function main(): Promise<void> {
  const settings = config();
  requireSettings(settings, 'migrate');
  if (!settings.DATABASE_OWNER_URL) throw new Error('unreachable: checked by requireSettings');
  const result = await migrate(settings.DATABASE_OWNER_URL, undefined, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${result.applied.length} applied, ${result.skipped.length} already applied\n`);
  process.stdout.write(`${describeShippedGeography(await ensureShippedGeography(settings.DATABASE_OWNER_URL))}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
