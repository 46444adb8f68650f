import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CsvError, parse } from 'csv-parse';
import { z } from 'zod';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

export interface ImportRecord {
  /** The file line the record ends on (the header is line 1). */
  line: number;
  fields: string[];
}

export interface ImportFile {
  sha256: Buffer;
  header: string[];
  records: AsyncIterable<ImportRecord>;
}

/** The file is not CSV at all (bad quoting, or empty): nothing of it can be imported. */
export class ImportFileError extends DomainError {
  override readonly name = 'ImportFileError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('IMPORT_FILE_UNREADABLE', message, options);
  }
}

const Parsed = z.object({ record: z.array(z.string()), info: z.object({ lines: z.number() }) });

async function* records(parser: AsyncIterable<unknown>): AsyncGenerator<ImportRecord> {
  try {
    for await (const item of parser) {
      const { record, info } = Parsed.parse(item);
      yield { line: info.lines, fields: record };
    }
  } catch (err) {
    if (err instanceof CsvError) throw new ImportFileError(`line ${Number(err.lines ?? 0) || '?'}: ${err.message}`);
    throw err;
  }
}

/**
 * Opens a UTF-8 CSV import file (a BOM is allowed): its sha256, header and data records.
 * The file is read as a stream twice (once for the hash, once for the records), never held whole.
 * @throws ImportFileError when the file is empty or not CSV.
 */
export async function openImportFile(file: string): Promise<ImportFile> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const sha256 = hash.digest();
  const parser = createReadStream(file).pipe(
    parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true, trim: false }),
  );
  const iterator = records(parser)[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new ImportFileError(`${file} is empty: the first line must name the columns`);
  const header = first.value.fields.map((name) => name.trim().toLowerCase());
  return { sha256, header, records: { [Symbol.asyncIterator]: () => iterator } };
}
