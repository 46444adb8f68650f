import { rm, writeFile } from 'node:fs/promises';
import { csvLine } from './csv-text.ts';
import type { Rejection } from './import-validation.ts';

export function rejectedFilePath(file: string): string {
  return `${file}.rejected.csv`;
}

/**
 * Writes `<file>.rejected.csv`: the line and reasons of each refused row, then its fields
 * under the file's own header, so a corrected copy can be imported as it is (the importer
 * ignores the line and reasons columns). Removes a stale one when nothing was refused.
 * Mode 0600: the rows hold personal data in the clear, like the file they came from.
 * @returns the path written, or null.
 */
export async function writeRejections(file: string, header: readonly string[], rejections: readonly Rejection[]): Promise<string | null> {
  const target = rejectedFilePath(file);
  if (rejections.length === 0) {
    await rm(target, { force: true });
    return null;
  }
  const columns = header.flatMap((name, index) => (name === 'line' || name === 'reasons' ? [] : [index]));
  const lines = [csvLine(['line', 'reasons', ...columns.map((index) => header[index] ?? '')])];
  for (const { line, reasons, fields } of rejections) {
    lines.push(csvLine([String(line), reasons.join('; '), ...columns.map((index) => fields[index] ?? '')]));
  }
  await writeFile(target, lines.join(''), { mode: 0o600 });
  return target;
}
