import { z } from 'zod';
import { isoDateTime } from '../../src/validation/fields.ts';

/** Where a keyset page ends: the time its rows are ordered by, and the id that breaks ties. */
export interface KeysetPosition {
  at: string;
  id: string;
}

/** `page[cursor]`: an opaque position this API gave out in a `links.next`, refused otherwise. */
export const KeysetCursor = z.string().max(200).transform((value, ctx): KeysetPosition => {
  const [at, id, extra] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !isoDateTime.safeParse(at).success || !z.uuid().safeParse(id).success) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor this API gave out' });
    return z.NEVER;
  }
  return { at, id };
});

/**
 * The cursor that continues after a row ordered by `at`: epoch ms for a column written in ms,
 * or the exact ISO time (sqlPosition) of one written by the database's clock in microseconds,
 * which a round trip through ms would put before the row, showing it again on the next page.
 */
export function encodeKeysetCursor(at: number | string, id: string): string {
  return Buffer.from(`${typeof at === 'number' ? new Date(at).toISOString() : at}|${id}`).toString('base64url');
}

/** `page[size]` (1 to 100, 25 by default) and `page[cursor]`: a keyset page of a list, oldest or newest first. */
export const KeysetPage = z.object({ size: z.coerce.number().int().min(1).max(100).default(25), cursor: KeysetCursor.optional() }).strict().optional();
