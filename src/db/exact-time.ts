import { sql, type FragmentSqlToken } from 'slonik';

/**
 * A timestamptz as an RFC 3339 UTC time to the microsecond. Times the database's clock writes
 * (now(), clock_timestamp()) carry microseconds that a JavaScript Date drops: a keyset page
 * must continue after the exact value.
 */
export function exactTime(column: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
