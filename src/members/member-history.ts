import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/**
 * Payload keys a member's history shows: ids, amounts, dates, codes and flags. Anything else
 * (free text staff wrote, such as a rejection's reason or an approval's note, payment
 * references, card token ids) stays out, so a new event's new key is hidden until it is
 * added here on purpose.
 */
export const HISTORY_PAYLOAD_KEYS = [
  'wardId', 'committeeId', 'geographyPath', 'fromCommitteeId', 'toCommitteeId', 'by',
  'invoiceId', 'paymentId', 'amountMinor', 'currency', 'dueAt', 'provider', 'paidAt',
  'memberNumber', 'cardId', 'validUntil', 'importId',
  // membership after admission (issue #14)
  'until', 'reasonCode', 'early', 'proposedBy', 'confirmedBy', 'via', 'recordedBy',
  'termId', 'from', 'to', 'waived', 'fromWardId', 'toWardId',
] as const;

const ALLOWED: ReadonlySet<string> = new Set(HISTORY_PAYLOAD_KEYS);

export interface MemberHistoryEntry {
  version: number;
  type: string;
  recordedAt: string;
  /** Who appended it, from the event's metadata: `user:<id>`, `workflow:<id>`, `cli:<operator>`, `applicant`, ... */
  actor: string | null;
  /** The payload's allowed keys only. */
  data: Record<string, unknown>;
}

const Row = z.object({
  version: z.number().int(),
  type: z.string(),
  recordedAt: z.string(),
  actor: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
});

/** The member's events in stream order, for the transaction's tenant (none for an unknown member). */
export async function readMemberHistory(tx: TenantTransaction, memberId: string): Promise<MemberHistoryEntry[]> {
  const rows = await tx.any(sql.type(Row)`
    SELECT version, event_type AS type, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "recordedAt",
           metadata ->> 'actor' AS actor, payload
    FROM event_store
    WHERE tenant_id = app_current_tenant() AND aggregate_type = 'Member' AND aggregate_id = ${memberId}
    ORDER BY version`);
  return rows.map(({ payload, ...row }) => ({ ...row, data: Object.fromEntries(Object.entries(payload).filter(([key]) => ALLOWED.has(key))) }));
}
