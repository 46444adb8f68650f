import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { GatewayName, GatewayVerification, VerificationState } from './gateways/gateway.ts';
import { GATEWAYS } from './gateway-accounts.ts';

export const ATTEMPT_STATES = ['initiated', 'pending', 'ambiguous', 'not_found', 'complete', 'failed', 'expired', 'canceled', 'refunded', 'partially_refunded'] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export const PaymentAttemptSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  memberId: z.string(),
  invoiceId: z.string(),
  gateway: z.enum(GATEWAYS),
  amountMinor: z.coerce.number(),
  currency: z.string(),
  /** eSewa's transaction_uuid (the attempt's id), Khalti's pidx; null until Khalti answered the initiation. */
  reference: z.string().nullable(),
  workflowId: z.string(),
  state: z.enum(ATTEMPT_STATES),
  gatewayStatus: z.string().nullable(),
  gatewayTransactionId: z.string().nullable(),
  paymentId: z.string().nullable(),
  expiresAt: z.number(),
  createdAt: z.number(),
  checkedAt: z.number().nullable(),
  settledAt: z.number().nullable(),
});
export type PaymentAttempt = z.infer<typeof PaymentAttemptSchema>;

const columns = sql.fragment`
  id, tenant_id AS "tenantId", member_id AS "memberId", invoice_id AS "invoiceId", gateway, amount_minor AS "amountMinor", currency,
  reference, workflow_id AS "workflowId", state, gateway_status AS "gatewayStatus", gateway_transaction_id AS "gatewayTransactionId",
  payment_id AS "paymentId", expires_at AS "expiresAt", created_at AS "createdAt", checked_at AS "checkedAt", settled_at AS "settledAt"`;

export interface NewAttempt {
  id: string;
  tenantId: string;
  memberId: string;
  invoiceId: string;
  gateway: GatewayName;
  amountMinor: number;
  currency: string;
  reference: string | null;
  workflowId: string;
  expiresAt: Date;
}

export async function insertAttempt(tx: TenantTransaction, a: NewAttempt): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO payment_attempts (id, tenant_id, member_id, invoice_id, gateway, amount_minor, currency, reference, workflow_id, expires_at)
    VALUES (${a.id}, ${a.tenantId}, ${a.memberId}, ${a.invoiceId}, ${a.gateway}, ${a.amountMinor}, ${a.currency}, ${a.reference},
            ${a.workflowId}, ${a.expiresAt.toISOString()})`);
}

/** Khalti's pidx, once its initiation answered. */
export async function setAttemptReference(tx: TenantTransaction, attemptId: string, reference: string): Promise<void> {
  await tx.query(sql.unsafe`UPDATE payment_attempts SET reference = ${reference} WHERE id = ${attemptId} AND reference IS NULL`);
}

export async function findAttempt(tx: TenantTransaction, attemptId: string): Promise<PaymentAttempt | null> {
  if (!z.uuid().safeParse(attemptId).success) return null;
  return tx.maybeOne(sql.type(PaymentAttemptSchema)`SELECT ${columns} FROM payment_attempts WHERE id = ${attemptId}`);
}

export async function attemptByReference(tx: TenantTransaction, gateway: GatewayName, reference: string): Promise<PaymentAttempt | null> {
  return tx.maybeOne(sql.type(PaymentAttemptSchema)`SELECT ${columns} FROM payment_attempts WHERE gateway = ${gateway} AND reference = ${reference}`);
}

/** A member's attempts, newest first. */
export async function memberAttempts(tx: TenantTransaction, memberId: string): Promise<readonly PaymentAttempt[]> {
  return tx.any(sql.type(PaymentAttemptSchema)`SELECT ${columns} FROM payment_attempts WHERE member_id = ${memberId} ORDER BY created_at DESC`);
}

/** The party's attempts started on a day (a range of instants), oldest first: what the daily reconciliation asks the gateways about. */
export async function attemptsBetween(tx: TenantTransaction, from: Date, to: Date, gateway: GatewayName): Promise<readonly PaymentAttempt[]> {
  return tx.any(sql.type(PaymentAttemptSchema)`
    SELECT ${columns} FROM payment_attempts
    WHERE created_at >= ${from.toISOString()}::timestamptz AND created_at < ${to.toISOString()}::timestamptz AND gateway = ${gateway}
    ORDER BY created_at, id`);
}

/** What the gateway last said about the attempt. A state it left stays behind it: a settled attempt keeps its payment. */
export async function recordCheck(tx: TenantTransaction, attemptId: string, verification: Pick<GatewayVerification, 'state' | 'gatewayStatus' | 'gatewayTransactionId'>): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE payment_attempts SET state = ${verification.state}, gateway_status = ${verification.gatewayStatus},
      gateway_transaction_id = coalesce(${verification.gatewayTransactionId}, gateway_transaction_id), checked_at = now()
    WHERE id = ${attemptId}`);
}

/** The attempt ended without a payment it can hand on: expired unpaid, canceled, failed. */
export async function closeAttempt(tx: TenantTransaction, attemptId: string, state: Exclude<VerificationState, 'complete'> | 'expired'): Promise<void> {
  await tx.query(sql.unsafe`UPDATE payment_attempts SET state = ${state}, settled_at = coalesce(settled_at, now()) WHERE id = ${attemptId}`);
}

/** The payment the attempt's money became (null: it went to reconciliation instead). */
export async function settleAttempt(tx: TenantTransaction, attemptId: string, paymentId: string | null): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE payment_attempts SET state = 'complete', payment_id = coalesce(payment_id, ${paymentId}), settled_at = coalesce(settled_at, now())
    WHERE id = ${attemptId}`);
}
