import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { sameBytes } from '../crypto/keyed-mac.ts';
import { z } from 'zod';
import { deriveKey } from '../crypto/derived-key.ts';
import type { MasterKey } from '../crypto/master-key.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

/**
 * A tenant snapshot is JSON lines: a header, then one line per row as `{"t":<table>,"r":<row>}`
 * where the row is Postgres' own `to_jsonb` text (bytea as hex, timestamps in UTC with
 * microseconds, int8 exact), then a manifest with each table's row count and SHA-256 and the
 * SHA-256 of every line before it, and last the MAC: HMAC-SHA256 of every line before it (header,
 * rows and manifest) under a key derived from the master key.
 */
export const SNAPSHOT_FORMAT = 'sadasya-tenant-snapshot';
/** 2: signed with a MAC. A version 1 snapshot has none and is refused. */
export const SNAPSHOT_VERSION = 2;

export const SnapshotHeaderSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  tenant: z.object({ id: z.uuid(), slug: z.string() }),
  exportedAt: z.string(),
  snapshot: z.string(),
  migrations: z.array(z.string()),
  tables: z.array(z.object({ name: z.string(), scope: z.enum(['tenant-row', 'tenant', 'shared']), columns: z.array(z.string()), identityColumns: z.array(z.string()) })),
});
export type SnapshotHeader = z.infer<typeof SnapshotHeaderSchema>;

export const TableSumSchema = z.object({ rows: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type TableSum = z.infer<typeof TableSumSchema>;

export const SnapshotManifestSchema = z.object({
  tables: z.record(z.string(), TableSumSchema),
  /** The tenant's member-number sequence; never behind any number in the snapshot. */
  memberNumberSequence: z.object({ lastValue: z.string().regex(/^\d+$/), isCalled: z.boolean() }),
  bodySha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifestSchema>;

export class SnapshotFormatError extends DomainError {
  override readonly name = 'SnapshotFormatError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('SNAPSHOT_INVALID', message, options);
  }
}

/** The purpose label of the key snapshots are signed with (HKDF info). */
export const SNAPSHOT_MAC_PURPOSE = 'tenant-snapshot';

/** The key a snapshot's MAC is made with: derived from the master key, for this purpose only. */
export function snapshotMacKey(master: MasterKey): Buffer {
  return deriveKey(master, SNAPSHOT_MAC_PURPOSE);
}

const MAC_LINE = /^\{"mac":\{"algorithm":"HMAC-SHA256","key":"tenant-snapshot","value":"([0-9a-f]{64})"\}\}$/;

export const macLine = (value: string) => `{"mac":{"algorithm":"HMAC-SHA256","key":"${SNAPSHOT_MAC_PURPOSE}","value":"${value}"}}`;

/** The MAC a snapshot's last line carries, or null when the line is not a MAC line. */
export function parseMacLine(line: string): string | null {
  return MAC_LINE.exec(line)?.[1] ?? null;
}

/** HMAC-SHA256 over lines, each followed by a newline, as written. */
export class LineMac {
  readonly #hmac: Hmac;

  constructor(key: Buffer) {
    this.#hmac = createHmac('sha256', key);
  }

  add(line: string): void {
    this.#hmac.update(line).update('\n');
  }

  digest(): string {
    return this.#hmac.digest('hex');
  }

  /** Whether `expected` (hex) is this MAC, compared in constant time. */
  matches(expected: string): boolean {
    const actual = this.#hmac.digest();
    return sameBytes(Buffer.from(expected, 'hex'), actual);
  }
}

const ROW_LINE = /^\{"t":"([a-z_][a-z0-9_]*)","r":(\{.*\})\}$/;

export const rowLine = (table: string, row: string) => `{"t":"${table}","r":${row}}`;

/** The table and the row text, untouched (re-serializing in JavaScript would round int8 and reorder keys). */
export function parseRowLine(line: string): { table: string; row: string } | null {
  const match = ROW_LINE.exec(line);
  return match ? { table: match[1]!, row: match[2]! } : null;
}

/** Row counts and SHA-256 per table, over each row's text and a newline, in snapshot order. */
export class TableChecksums {
  readonly #hashes = new Map<string, { rows: number; hash: Hash }>();

  constructor(tables: readonly string[]) {
    for (const table of tables) this.#hashes.set(table, { rows: 0, hash: createHash('sha256') });
  }

  add(table: string, row: string): void {
    const entry = this.#hashes.get(table);
    if (!entry) throw new SnapshotFormatError(`row of table ${table}, which the header does not list`);
    entry.rows++;
    entry.hash.update(row).update('\n');
  }

  digest(): Record<string, TableSum> {
    return Object.fromEntries([...this.#hashes].map(([table, { rows, hash }]) => [table, { rows, sha256: hash.digest('hex') }]));
  }
}

/** The tables whose checksums differ between two manifests (or appear in only one). */
export function differingTables(expected: Record<string, TableSum>, actual: Record<string, TableSum>): string[] {
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...names].filter((name) => expected[name]?.sha256 !== actual[name]?.sha256 || expected[name]?.rows !== actual[name]?.rows).sort();
}
