import { z } from 'zod';

// C0 controls (NUL among them, which Postgres refuses in text) and DEL; tabs and newlines stay.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Free text as people type it: trimmed, bounded, and no control characters. */
export function text(min: number, max: number) {
  return z.string().trim().min(min).max(max).refine((value) => !CONTROL.test(value), 'must not contain control characters');
}

/** A party's slug, wherever it appears (path, login). */
export const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'lowercase letters, digits and hyphens, 1-40 characters');

const EARLIEST_YEAR = 1900;
const LATEST_YEAR = 2200;
const inRange = (value: string) => {
  const year = Number(value.slice(0, 4));
  return year >= EARLIEST_YEAR && year <= LATEST_YEAR;
};

// The year range as a JSON Schema pattern, so the OpenAPI document says what the check refuses.
const YEARS = '^(?:19\\d\\d|2[01]\\d\\d|2200)-';

/** A calendar date (YYYY-MM-DD) in years Postgres and people both mean. */
export const isoDate = z.iso.date().refine(inRange, `must be a date between ${EARLIEST_YEAR} and ${LATEST_YEAR}`)
  .meta({ pattern: YEARS, description: `a date between ${EARLIEST_YEAR} and ${LATEST_YEAR}` });

/** An RFC 3339 timestamp with its offset, in the same years. */
export const isoDateTime = z.iso.datetime({ offset: true }).refine(inRange, `must be a time between ${EARLIEST_YEAR} and ${LATEST_YEAR}`)
  .meta({ pattern: YEARS, description: `an RFC 3339 time with its offset, between ${EARLIEST_YEAR} and ${LATEST_YEAR}` });
