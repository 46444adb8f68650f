import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { GatewayName, GatewayVerification } from './gateways/gateway.ts';
import { GATEWAYS } from './gateway-accounts.ts';
import type { PaymentAttempt } from './payment-attempts.ts';
import { findPayment } from './payments.ts';
import { addReconciliationItem } from './reconciliation.ts';

/** The workflow the daily Schedule starts, and the Schedule's id (also the started workflows' id prefix). */
export const PAYMENT_RECONCILIATION_WORKFLOW = 'paymentReconciliationRun';
export const PAYMENT_RECONCILIATION_SCHEDULE_ID = 'payment-reconciliation';

/** One party's day with one gateway, as the daily run compares it. */
export interface ReconciliationTarget {
  tenantId: string;
  gateway: GatewayName;
  /** The party's day (YYYY-MM-DD in its time zone) whose attempts are compared. */
  day: string;
}

export interface GatewayDayCounts {
  attempts: number;
  differences: number;
  unreachable: number;
}

export interface ReconciliationRunReport extends GatewayDayCounts {
  parties: number;
  gateways: number;
  /** The party gateways whose day could not be reconciled (the activity failed for good). */
  failed?: { tenantId: string; gateway: string }[];
}

/** The instants a party's day spans, in its time zone. */
export async function dayBounds(tx: TenantTransaction, timeZone: string, day: string): Promise<{ from: Date; to: Date }> {
  const bounds = await tx.one(sql.type(z.object({ from: z.number(), to: z.number() }))`
    SELECT (${day}::date::timestamp AT TIME ZONE ${timeZone}::text) AS "from", ((${day}::date + 1)::timestamp AT TIME ZONE ${timeZone}::text) AS "to"`);
  return { from: new Date(bounds.from), to: new Date(bounds.to) };
}

/** What the gateway said about one attempt, or that it did not answer. */
export type GatewayAnswer = { verification: GatewayVerification } | { unreachable: string };

/**
 * Compares the gateway's answer about one attempt with what was recorded, in the party's
 * transaction, and puts a difference in the reconciliation queue (once: a repeated run finds
 * the item there and adds none):
 * - complete at the gateway, but no payment recorded for the transaction and no item in the
 *   queue about it (the verification workflow's, e.g. a wrong amount): `gateway_differs`;
 * - refunded or partially refunded at the gateway, but a payment recorded: `gateway_differs`.
 * @returns whether the attempt differs (counted whether its item is new or was already there).
 */
export async function compareAttempt(tx: TenantTransaction, attempt: PaymentAttempt, verification: GatewayVerification): Promise<boolean> {
  const reference = attempt.reference ?? attempt.id;
  const payment = await findPayment(tx, attempt.gateway, reference);
  const paisa = verification.amountPaisa ?? attempt.amountMinor;
  const txn = verification.gatewayTransactionId ? ` (its transaction ${verification.gatewayTransactionId})` : '';
  let detail: string | null = null;
  if (verification.state === 'complete' && !payment && !attempt.paymentId) {
    const otherItems = await tx.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM payment_reconciliation_items
      WHERE gateway = ${attempt.gateway} AND reference = ${reference} AND reason <> 'gateway_differs'`);
    if (otherItems > 0) return false;
    detail = `${attempt.gateway} reports ${verification.gatewayStatus}${txn} for ${paisa} paisa, but no payment is recorded for it`;
  } else if ((verification.state === 'refunded' || verification.state === 'partially_refunded') && (payment || attempt.paymentId)) {
    detail = `${attempt.gateway} reports ${verification.gatewayStatus}${txn}, but payment ${payment?.id ?? attempt.paymentId} is recorded for invoice ${attempt.invoiceId}`;
  }
  if (detail === null) return false;
  await addReconciliationItem(tx, {
    tenantId: attempt.tenantId, gateway: attempt.gateway, reference, attemptId: attempt.id, memberId: attempt.memberId,
    amountMinor: paisa, currency: attempt.currency, reason: 'gateway_differs', detail,
  });
  return true;
}

/** Records (or, for a repeated run of the same day, overwrites) the day's counts for a gateway. */
export async function recordReconciliationRun(tx: TenantTransaction, target: ReconciliationTarget, counts: GatewayDayCounts): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO payment_reconciliation_runs (tenant_id, day, gateway, attempts, differences, unreachable)
    VALUES (${target.tenantId}, ${target.day}::date, ${target.gateway}, ${counts.attempts}, ${counts.differences}, ${counts.unreachable})
    ON CONFLICT (tenant_id, day, gateway) DO UPDATE
    SET attempts = EXCLUDED.attempts, differences = EXCLUDED.differences, unreachable = EXCLUDED.unreachable, finished_at = now()`);
}

const RunRow = z.object({
  day: z.string(), gateway: z.enum(GATEWAYS), attempts: z.number(), differences: z.number(), unreachable: z.number(), finishedAt: z.number(),
});
export type ReconciliationRunRow = z.infer<typeof RunRow>;

/** The party's recorded runs for a day, by gateway. */
export async function reconciliationRuns(tx: TenantTransaction, day: string): Promise<readonly ReconciliationRunRow[]> {
  return tx.any(sql.type(RunRow)`
    SELECT to_char(day, 'YYYY-MM-DD') AS day, gateway, attempts, differences, unreachable, finished_at AS "finishedAt"
    FROM payment_reconciliation_runs WHERE day = ${day}::date ORDER BY gateway`);
}
