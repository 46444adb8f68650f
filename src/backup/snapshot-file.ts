import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import {
  differingTables, LineMac, parseMacLine, parseRowLine, SnapshotFormatError, SnapshotHeaderSchema, SnapshotManifestSchema, TableChecksums,
  type SnapshotHeader, type SnapshotManifest,
} from './snapshot-format.ts';

export type SnapshotLine =
  | { kind: 'header'; header: SnapshotHeader }
  | { kind: 'row'; table: string; row: string }
  | { kind: 'manifest'; manifest: SnapshotManifest }
  | { kind: 'mac'; mac: string };

function parsed<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new SnapshotFormatError(`${what} is malformed: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  return result.data;
}

/** What one line of a snapshot is. @throws SnapshotFormatError on a line that is none of the four kinds. */
function classify(file: string, number: number, text: string): SnapshotLine {
  const row = number > 1 ? parseRowLine(text) : null;
  if (row) return { kind: 'row', ...row };
  const mac = number > 1 ? parseMacLine(text) : null;
  if (mac) return { kind: 'mac', mac };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SnapshotFormatError(`line ${number} of ${file} is not JSON`);
  }
  const { snapshot, manifest } = (json ?? {}) as { snapshot?: unknown; manifest?: unknown };
  if (number === 1 && snapshot !== undefined) return { kind: 'header', header: parsed(SnapshotHeaderSchema, snapshot, `the header of ${file}`) };
  if (manifest !== undefined) return { kind: 'manifest', manifest: parsed(SnapshotManifestSchema, manifest, `the manifest of ${file}`) };
  throw new SnapshotFormatError(`line ${number} of ${file} is neither a row nor the manifest`);
}

function textLines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
}

/** The lines of a snapshot file, in order. @throws SnapshotFormatError on a line that is none of the four kinds. */
export async function* snapshotLines(file: string): AsyncGenerator<SnapshotLine & { text: string }> {
  let number = 0;
  for await (const text of textLines(file)) {
    number++;
    yield { ...classify(file, number, text), text };
  }
}

/**
 * Reads the whole file once and checks it before anything is restored from it: first its MAC
 * (HMAC-SHA256 under `macKey`, over every line before the MAC line), so an altered or forged
 * file is refused as such whatever else is wrong with it; then that the header comes first and
 * the manifest last, and the body's SHA-256 and every table's row count and SHA-256 match it.
 * @throws SnapshotFormatError naming what does not match (a truncated, altered or unsigned file).
 */
export async function verifySnapshotFile(file: string, macKey: Buffer): Promise<{ header: SnapshotHeader; manifest: SnapshotManifest }> {
  const mac = new LineMac(macKey);
  let signature: string | undefined;
  let problem: Error | undefined;
  let header: SnapshotHeader | undefined;
  let manifest: SnapshotManifest | undefined;
  let sums: TableChecksums | undefined;
  const body = createHash('sha256');
  let number = 0;
  for await (const text of textLines(file)) {
    number++;
    if (signature !== undefined) {
      problem ??= new SnapshotFormatError(`${file} continues after its MAC`);
      continue;
    }
    if (number > 1 && parseMacLine(text) !== null) {
      signature = parseMacLine(text)!;
      continue;
    }
    mac.add(text);
    if (problem !== undefined) continue;
    try {
      const line = classify(file, number, text);
      if (manifest) throw new SnapshotFormatError(`${file} continues after its manifest`);
      if (line.kind === 'header') {
        header = line.header;
        sums = new TableChecksums(header.tables.map((t) => t.name));
      } else if (line.kind === 'manifest') {
        manifest = line.manifest;
        continue;
      } else if (line.kind === 'row') {
        if (!sums) throw new SnapshotFormatError(`${file} does not start with a snapshot header`);
        sums.add(line.table, line.row);
      }
      body.update(text).update('\n');
    } catch (err) {
      problem = err instanceof Error ? err : new SnapshotFormatError(String(err));
    }
  }
  if (signature === undefined) {
    throw new SnapshotFormatError(`${file} has no MAC: it is truncated, or was not written by tenant:export of this version; a snapshot is restored only when its MAC verifies`);
  }
  if (!mac.matches(signature)) {
    throw new SnapshotFormatError(`${file}: its MAC does not verify under this master key: the file was altered, or signed under another master key`);
  }
  if (problem !== undefined) throw problem;
  if (!header || !sums) throw new SnapshotFormatError(`${file} does not start with a snapshot header`);
  if (!manifest) throw new SnapshotFormatError(`${file} has no manifest: it is truncated`);
  if (body.digest('hex') !== manifest.bodySha256) throw new SnapshotFormatError(`${file}: its content does not match the manifest's SHA-256`);
  const differing = differingTables(manifest.tables, sums.digest());
  if (differing.length > 0) throw new SnapshotFormatError(`${file}: checksums differ for ${differing.join(', ')}`);
  return { header, manifest };
}
