import { sql, type FragmentSqlToken } from 'slonik';

/** Where no party is in the transaction (operator tools), dates are Nepal's. */
export const DEFAULT_GEOGRAPHY_TIME_ZONE = 'Asia/Kathmandu';

/** Today's date in the time zone of the transaction's party (Nepal's without one). */
export const partyToday: FragmentSqlToken = sql.fragment`
  (now() AT TIME ZONE coalesce((SELECT t.time_zone FROM tenants t WHERE t.id = app_current_tenant()), ${DEFAULT_GEOGRAPHY_TIME_ZONE}::text))::date`;

/**
 * The condition a geography node must meet to be chosen today (as a member's ward, a
 * transfer's destination, a committee's area): active, and today within its validity dates,
 * `valid_to` included, in the party's time zone.
 */
export function validToday(alias: string): FragmentSqlToken {
  const node = sql.identifier([alias]);
  return sql.fragment`(${node}.is_active AND ${node}.valid_from <= ${partyToday}
    AND (${node}.valid_to IS NULL OR ${node}.valid_to >= ${partyToday}))`;
}
