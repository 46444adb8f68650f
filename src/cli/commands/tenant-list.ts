import { sql } from 'slonik';
import { z } from 'zod';
import { parseFlags } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { withApplicationPool } from './operator-session.ts';

const USAGE = 'Usage: npm run cli -- tenant:list';

const TenantRow = z.object({ slug: z.string(), name: z.string(), prefix: z.string(), createdAt: z.number() });

async function run(args: string[]): Promise<void> {
  parseFlags(args, {}, z.object({}), USAGE);
  const rows = await withApplicationPool('tenant:list', (pool) =>
    pool.any(sql.type(TenantRow)`
      SELECT slug, name, member_number_prefix AS prefix, created_at AS "createdAt" FROM tenants ORDER BY slug`),
  );
  if (rows.length === 0) {
    process.stdout.write('No parties yet: create one with tenant:create\n');
    return;
  }
  const width = Math.max(4, ...rows.map((row) => row.slug.length));
  const lines = rows.map((row) => `${row.slug.padEnd(width)}  ${row.prefix.padEnd(8)}  ${new Date(row.createdAt).toISOString().slice(0, 10)}  ${row.name}`);
  process.stdout.write(`${['slug'.padEnd(width), 'prefix  ', 'created   ', 'name'].join('  ')}\n${lines.join('\n')}\n`);
}

export const tenantList = operatorCommand('List the parties (tenants): slug, member-number prefix, creation date, name', run);
