import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  differingTables, parseRowLine, SnapshotFormatError, SnapshotHeaderSchema, SnapshotManifestSchema, TableChecksums,
  type SnapshotHeader, type SnapshotManifest,
} from './snapshot-format.ts';

export type SnapshotLine =
  | { kind: 'header'; header: SnapshotHeader }
  | { kind: 'row'; table: string; row: string }
  | { kind: 'manifest'; manifest: SnapshotManifest };

/** The lines of a snapshot file, in order. @throws SnapshotFormatError on a line that is none of the three kinds. */
export async function* snapshotLines(file: string): AsyncGenerator<SnapshotLine & { text: string }> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const text of lines) {
    number++;
    const row = number > 1 ? parseRowLine(text) : null;
    if (row) {
      yield { kind: 'row', ...row, text };
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SnapshotFormatError(`line ${number} of ${file} is not JSON`);
    }
    const { snapshot, manifest } = (parsed ?? {}) as { snapshot?: unknown; manifest?: unknown };
    if (number === 1 && snapshot !== undefined) yield { kind: 'header', header: SnapshotHeaderSchema.parse(snapshot), text };
    else if (manifest !== undefined) yield { kind: 'manifest', manifest: SnapshotManifestSchema.parse(manifest), text };
    else throw new SnapshotFormatError(`line ${number} of ${file} is neither a row nor the manifest`);
  }
}

/**
 * Reads the whole file once and checks it against its own manifest: the header comes first, the
 * manifest last, the body's SHA-256 and every table's row count and SHA-256 match.
 * @throws SnapshotFormatError naming what does not match (a truncated or altered file).
 */
export async function verifySnapshotFile(file: string): Promise<{ header: SnapshotHeader; manifest: SnapshotManifest }> {
  let header: SnapshotHeader | undefined;
  let manifest: SnapshotManifest | undefined;
  let sums: TableChecksums | undefined;
  const body = createHash('sha256');
  for await (const line of snapshotLines(file)) {
    if (manifest) throw new SnapshotFormatError(`${file} continues after its manifest`);
    if (line.kind === 'header') {
      header = line.header;
      sums = new TableChecksums(header.tables.map((t) => t.name));
    } else if (line.kind === 'manifest') {
      manifest = line.manifest;
      continue;
    } else {
      if (!sums) throw new SnapshotFormatError(`${file} does not start with a snapshot header`);
      sums.add(line.table, line.row);
    }
    body.update(line.text).update('\n');
  }
  if (!header || !sums) throw new SnapshotFormatError(`${file} does not start with a snapshot header`);
  if (!manifest) throw new SnapshotFormatError(`${file} has no manifest: it is truncated`);
  if (body.digest('hex') !== manifest.bodySha256) throw new SnapshotFormatError(`${file}: its content does not match the manifest's SHA-256`);
  const differing = differingTables(manifest.tables, sums.digest());
  if (differing.length > 0) throw new SnapshotFormatError(`${file}: checksums differ for ${differing.join(', ')}`);
  return { header, manifest };
}
