import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SealedApplication } from '../../src/members/sealed-application.ts';

/** The stages a member lifecycle moves through; also the MemberStage search attribute. */
export type MemberStageName =
  | 'Registered'
  | 'AwaitingApproval'
  | 'Rejected'
  | 'Approved'
  | 'AwaitingPayment'
  | 'Expired'
  | 'Paid'
  | 'Active'
  | 'CardIssued'
  | 'Withdrawn'
  | 'RegistrationRefused';

export interface MemberLifecycleInput {
  tenantId: string;
  memberId: string;
}

export interface ApproveMessage {
  by: string;
  note?: string | null;
}

export interface RejectMessage {
  by: string;
  reason: string;
}

export interface PaymentMessage {
  invoiceId: string;
  /** Minor units (paisa). */
  amount: number;
  currency: string;
  provider: string;
  providerRef: string;
  paidAt: string;
}

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

/** Update-with-Start: answers only once the application is durably recorded. */
export const registerUpdate = defineUpdate<MessageResult, [SealedApplication]>('register');
export const approveUpdate = defineUpdate<MessageResult, [ApproveMessage]>('approve');
export const rejectUpdate = defineUpdate<MessageResult, [RejectMessage]>('reject');
export const paymentReceivedUpdate = defineUpdate<MessageResult, [PaymentMessage]>('paymentReceived');
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
