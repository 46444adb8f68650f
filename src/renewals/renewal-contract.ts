/**
 * The renewal workflows' contract: inputs, the payment Update and Signal, the status Query, the
 * outcomes and the workflow ids. The workflows, their activities, the API and the CLI import it
 * from here; it holds no logic and no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PaymentMessage, RecordedPayment } from '../members/lifecycle-contract.ts';

/** The workflow type that renews one member's term (workflows/renewals/member-renewal.ts). */
export const MEMBER_RENEWAL_WORKFLOW = 'memberRenewal';
/** The workflow the daily Schedule starts: it starts a renewal for every member due. */
export const RENEWAL_RUN_WORKFLOW = 'renewalRun';
export const RENEWAL_SCHEDULE_ID = 'membership-renewals';

/** `renewal-<tenant>-<member>-<term>`: one renewal per term, however often it is started. */
export function renewalWorkflowId(tenantId: string, memberId: string, termNumber: number): string {
  return `renewal-${tenantId}-${memberId}-${termNumber}`;
}

export interface MemberRenewalInput {
  tenantId: string;
  memberId: string;
  /** The term this renewal follows: the member's last term when it was started. */
  termNumber: number;
  /** `schedule` (the daily run) or `user:<id>` (staff renewing a member now). */
  startedBy: string;
}

/**
 * Where a renewal is, also its MemberStage search attribute: the invoice waits for payment
 * (AwaitingRenewalPayment), the member lapsed and may still pay within the reinstatement window
 * (TermLapsed), or it ended.
 */
export const RENEWAL_STAGES = ['AwaitingRenewalPayment', 'TermLapsed', 'Renewed', 'Reinstated', 'RenewalClosed', 'RenewalNotDue'] as const;
export type RenewalStage = (typeof RENEWAL_STAGES)[number];

export type RenewalOutcome = 'renewed' | 'reinstated' | 'closed' | 'not_due';

export interface RenewalStatus {
  stage: RenewalStage | 'Opening';
  invoice: { invoiceId: string; amountMinor: number; currency: string; dueAt: string } | null;
  /** When the member lapses unless paid, and when the reinstatement window closes, ISO. */
  lapsesAt: string | null;
  closesAt: string | null;
}

/** What paymentReceived answers: the recorded payment, or null when the renewal moved on without it. */
export interface RenewalPaymentResult {
  stage: RenewalStatus['stage'];
  payment: RecordedPayment | null;
}

/** The same message and name as the admission lifecycle's: a payment is handed to whichever workflow its invoice names. */
export const renewalPaymentUpdate = defineUpdate<RenewalPaymentResult, [PaymentMessage]>('paymentReceived');
export const renewalPaymentSignal = defineSignal<[PaymentMessage]>('paymentReceived');
export const renewalStatusQuery = defineQuery<RenewalStatus>('renewalStatus');

/** What one run of the daily renewal Schedule did, per party. */
export interface RenewalRunReport {
  parties: number;
  due: number;
  started: number;
  alreadyStarted: number;
}
