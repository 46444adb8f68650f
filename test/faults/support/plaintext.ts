import { spawnSync } from 'node:child_process';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { findPgClientTools } from '../../../src/backup/pg-client-tools.ts';
import { toolConnection } from '../../../src/backup/pg-dump.ts';
import { toolSearchPaths } from '../../../src/config.ts';
import { asSuperuser } from './own-servers.ts';

/** Every form a member's phone or email could take in a leak: E.164 with and without "+", national, grouped, any case. */
export function needlesFor(phoneNational: string, email: string): string[] {
  const phone = parsePhoneNumberWithError(phoneNational, 'NP');
  const national = phone.nationalNumber.toString();
  return [...new Set([
    phone.number, phone.number.slice(1), national, phone.formatNational(), phone.formatInternational(), `${national.slice(0, 3)}-${national.slice(3)}`,
    email, email.toLowerCase(), email.normalize('NFC').toLowerCase(),
  ])];
}

/** Each needle as the text it is and as the hex a bytea column would show (`\x3938...`). */
const encodings = (needle: string) => [needle.toLowerCase(), Buffer.from(needle, 'utf8').toString('hex')];

/** The needles found in the haystack, case-insensitively, with where the first one sits. */
export function findLeaks(haystack: string, needles: readonly string[]): { needle: string; context: string }[] {
  const lower = haystack.toLowerCase();
  const leaks: { needle: string; context: string }[] = [];
  for (const needle of needles) {
    for (const form of encodings(needle)) {
      const at = lower.indexOf(form);
      if (at >= 0) leaks.push({ needle: form, context: haystack.slice(Math.max(0, at - 80), at + form.length + 80) });
    }
  }
  return leaks;
}

/**
 * pg_dump of the whole database as plain SQL, schema and data, through a superuser connection
 * (the tables force row-level security, which pg_dump will not read through).
 */
export async function pgDumpText(adminUrl: string): Promise<string> {
  const tools = await findPgClientTools({ explicitDir: process.env.PG_CLIENT_BIN_DIR, ...toolSearchPaths() });
  const { dbname, env } = toolConnection(adminUrl);
  const result = spawnSync(tools.pgDump, ['--format=plain', `--dbname=${dbname}`], { encoding: 'utf8', maxBuffer: 1 << 30, env });
  if (result.status !== 0) throw new Error(`pg_dump failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

/**
 * Every row of every table of the database's public schema as JSON text, read as the superuser
 * (row-level security does not apply to it): the same content a data-only dump holds.
 */
export async function dumpEveryTable(superuserUrl: string, database: string): Promise<{ text: string; tables: Record<string, number> }> {
  return asSuperuser(superuserUrl, async (client) => {
    const { rows: tables } = await client.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1");
    const parts: string[] = [];
    const counts: Record<string, number> = {};
    for (const { name } of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${client.escapeIdentifier(name)} t`);
      counts[name] = rows.length;
      parts.push(`-- ${name}`, ...rows.map((r) => r.row));
    }
    return { text: parts.join('\n'), tables: counts };
  }, database);
}

/** Every string in a value, and every byte array decoded as UTF-8 (Temporal payloads are bytes). */
export function textsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) textsOf(item, out);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) textsOf(item, out);
  return out;
}
