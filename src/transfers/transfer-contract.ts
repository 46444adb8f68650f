/**
 * The transfer workflow's contract: its input, its Updates and Signals, what they answer, and
 * its workflow id. The workflow, its activities, the transfer client and the API import it
 * from here; it holds no logic and no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** The workflow type's name, as the worker registers it (workflows/transfers/member-transfer.ts). */
export const MEMBER_TRANSFER_WORKFLOW = 'memberTransfer';
/** The workflow that emails a member their transfer link. */
export const TRANSFER_LINK_WORKFLOW = 'transferLink';

export interface MemberTransferInput {
  tenantId: string;
  memberId: string;
  transferId: string;
  /** When the transfer is accepted unless refused before (the row's decides_at), ISO. */
  decidesAt: string;
}

export type MemberTransferWorkflow = (input: MemberTransferInput) => Promise<TransferOutcome>;

export interface TransferLinkInput {
  tenantId: string;
  memberId: string;
  /** When the link stops working, ISO; the token is derived from it by the activity, never carried here. */
  expiresAt: string;
}

/** Why a head refuses a transfer: a word from this list (it enters the member's event history). */
export const TRANSFER_REFUSAL_REASONS = ['not_resident', 'duplicate_request', 'member_request', 'other'] as const;
export type TransferRefusalReason = (typeof TRANSFER_REFUSAL_REASONS)[number];

export interface ApproveTransferMessage {
  /** `user:<id>`: a head of a committee covering the destination ward, checked by the API. */
  by: string;
}

export interface RefuseTransferMessage {
  by: string;
  reasonCode: TransferRefusalReason;
}

export type TransferStatus = 'requested' | 'accepted' | 'refused' | 'cancelled';

export interface TransferOutcome {
  status: TransferStatus;
}

export const approveTransferUpdate = defineUpdate<TransferOutcome, [ApproveTransferMessage]>('approveTransfer');
export const refuseTransferUpdate = defineUpdate<TransferOutcome, [RefuseTransferMessage]>('refuseTransfer');
/** The same as signals, for operators (Temporal UI, CLI); recorded as `operator:<name>`. */
export const approveTransferSignal = defineSignal<[ApproveTransferMessage]>('approveTransfer');
export const refuseTransferSignal = defineSignal<[RefuseTransferMessage]>('refuseTransfer');
export const transferStatusQuery = defineQuery<TransferOutcome & { decision: 'approved' | 'refused' | 'window' | null }>('transferStatus');

export function transferWorkflowId(tenantId: string, memberId: string, seq: number): string {
  return `transfer-${tenantId}-${memberId}-${seq}`;
}

/** One link email per member and hour at most: the workflow id repeats within the hour. */
export function transferLinkWorkflowId(tenantId: string, memberId: string, at: Date): string {
  return `transfer-link-${tenantId}-${memberId}-${at.toISOString().slice(0, 13)}`;
}
