/**
 * The member lifecycle's contract: its input, its messages (Updates, Signals, the status
 * Query), what they answer, and its workflow id. The workflow, its activities, the lifecycle
 * client and the API all import it from here; it holds no logic and no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MemberStageName } from './member-status.ts';
import type { ReceivedPayment } from '../payments/payments.ts';
import type { SealedApplication } from './sealed-application.ts';

export type { MemberStageName } from './member-status.ts';

/**
 * The refusal of another application under a used Idempotency-Key, in one wording wherever it
 * is decided (the running lifecycle, or the record of one that ended), so it says nothing of which.
 */
export const IDEMPOTENCY_KEY_REUSED_MESSAGE = 'this Idempotency-Key was given with another application; use a new key';

/** The workflow type's name, as the worker registers it (workflows/members/member-lifecycle.ts). */
export const MEMBER_LIFECYCLE_WORKFLOW = 'memberLifecycle';

/** The workflow's signature, so a client can start it by name with typed arguments. */
export type MemberLifecycleWorkflow = (input: MemberLifecycleInput) => Promise<LifecycleStatus>;

export interface MemberLifecycleInput {
  tenantId: string;
  memberId: string;
  /**
   * The application as the registration request recorded it, in the transaction that wrote the
   * member row and the lifecycle to start (src/members/lifecycle-starts.ts). Absent from
   * lifecycles started before registration was recorded by the request: those record it through
   * the register Update.
   */
  recorded?: RecordedApplication;
}

/** How an application was recorded: the member's place, or, when its phone or email was taken, whose it is. */
export interface RegistrationResult {
  geographyPath: string;
  committeeId: string | null;
  /** When the application was taken, recorded or not. */
  registeredAt?: string;
  /** Set when the phone or email already belongs to someone in the party: nothing was recorded for the member. */
  refusal?: ContactTaken;
}

/** Whose phone or email an application named. */
export interface ContactTaken {
  contact: 'phone' | 'email';
  holderId: string;
}

/** A registration recorded before its lifecycle started, with the digest a repeat of it must carry. */
export interface RecordedApplication extends RegistrationResult {
  registeredAt: string;
  digest?: string;
}

export interface ApproveMessage {
  by: string;
  note?: string | null;
}

export interface RejectMessage {
  by: string;
  reason: string;
}

/** The paymentReceived message: a payment for the lifecycle's open invoice. */
export type PaymentMessage = ReceivedPayment;

export interface WithdrawMessage {
  reason: string;
}

export interface LifecycleStatus {
  stage: MemberStageName;
  history: { stage: MemberStageName; at: string }[];
  invoice: { invoiceId: string; amountMinor: number; currency: string; dueAt: string } | null;
  memberNumber: string | null;
  escalated: boolean;
}

export interface MessageResult {
  stage: MemberStageName;
}

/**
 * What approve answers: lifecycles since LIFECYCLE_MERGED_STEPS answer once the invoice is
 * issued, with it (null when the lifecycle ended otherwise, e.g. withdrawn); earlier ones
 * answered at Approved, without it.
 */
export interface ApproveResult extends MessageResult {
  invoice?: LifecycleStatus['invoice'];
}

/**
 * What register answers: the same for an application recorded and one whose phone or email
 * was taken, so the API can answer the applicant the same way (only the stage differs, and
 * the API does not show it).
 */
export interface RegisterResult extends MessageResult {
  registeredAt: string;
  committeeId: string | null;
}

/** What paymentReceived answers: the recorded payment, or null when the lifecycle moved on without it. */
export interface PaymentResult extends MessageResult {
  payment: RecordedPayment | null;
}

export interface RecordedPayment {
  paymentId: string;
  /** When the row was written; absent from lifecycles whose payment was recorded before it was reported. */
  recordedAt?: string;
}

/** Update-with-Start: answers only once the application is durably recorded. */
export const registerUpdate = defineUpdate<RegisterResult, [SealedApplication]>('register');
export const approveUpdate = defineUpdate<ApproveResult, [ApproveMessage]>('approve');
export const rejectUpdate = defineUpdate<MessageResult, [RejectMessage]>('reject');
export const paymentReceivedUpdate = defineUpdate<PaymentResult, [PaymentMessage]>('paymentReceived');
export const withdrawUpdate = defineUpdate<MessageResult, [WithdrawMessage]>('withdraw');

/** The same messages as signals, for operators (Temporal UI, CLI) and fire-and-forget senders. */
export const approveSignal = defineSignal<[ApproveMessage]>('approve');
export const rejectSignal = defineSignal<[RejectMessage]>('reject');
export const paymentReceivedSignal = defineSignal<[PaymentMessage]>('paymentReceived');
export const withdrawSignal = defineSignal<[WithdrawMessage]>('withdraw');

export const statusQuery = defineQuery<LifecycleStatus>('status');

export function memberWorkflowId(tenantId: string, memberId: string): string {
  return `member-${tenantId}-${memberId}`;
}
