import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { TenantKeys } from '../tenants/keyring.ts';
import { lookupBlindIndexes, normalizeEmail } from './personal-data.ts';

/** The members row's record of a status change: its reason code, a staff note, a suspension's end. */
export interface StatusFields {
  reason: string | null;
  note: string | null;
  until: string | null;
}

/** Writes the status change's fields on the members row (audited with the transaction's actor). */
export async function recordStatusFields(tx: TenantTransaction, memberId: string, fields: StatusFields): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE members SET status_reason = ${fields.reason}, status_note = ${fields.note}, suspended_until = ${fields.until},
           status_changed_at = clock_timestamp()
    WHERE id = ${memberId}`);
}

const Standing = z.object({ status: z.string(), reason: z.string().nullable() });

/** The member's stored status and its reason code; null when the party has no such member. */
export function readStanding(tx: TenantTransaction, memberId: string): Promise<z.infer<typeof Standing> | null> {
  return tx.maybeOne(sql.type(Standing)`SELECT status::text AS status, status_reason AS reason FROM members WHERE id = ${memberId}`);
}

/** The active member whose email this is, by blind index (current key, and the previous one during a re-index). */
export function findActiveMemberIdByEmail(tx: TenantTransaction, keys: TenantKeys, email: string): Promise<string | null> {
  return tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM members WHERE email_bidx = ANY(${sql.array(lookupBlindIndexes(keys, 'email', normalizeEmail(email)), 'bytea')}) AND status = 'active' LIMIT 1`);
}
