/**
 * The status-change workflow's contract (workflows/members/status-change.ts): its input, its
 * Updates, what they answer, and its workflow ids. One workflow per change, id
 * `<kind>-<tenantId>-<memberId>-<n>` (n counts the member's changes of that kind from 1).
 * Holds no logic and no I/O: the API, the client and the workflow import it.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DisciplineReason, ResignationReason } from './status-change-rules.ts';

export const STATUS_CHANGE_WORKFLOW = 'memberStatusChange';

export const STATUS_CHANGE_KINDS = ['suspension', 'expulsion', 'resignation', 'death', 'resignation-link'] as const;
export type StatusChangeKind = (typeof STATUS_CHANGE_KINDS)[number];

/** What a change is, and who asks for it (`user:<id>`, or `member:<id>` through a signed link). */
export type StatusChange =
  | { kind: 'suspension'; by: string; until: string; reasonCode: DisciplineReason; note: string | null }
  | { kind: 'expulsion'; by: string; reasonCode: DisciplineReason; committeeId: string; note: string | null }
  | { kind: 'resignation'; by: string; via: 'link' | 'staff'; reasonCode: ResignationReason; note: string | null }
  | { kind: 'death'; by: string; note: string | null }
  /** Not a change: the email of a resignation link to the member's own address. */
  | { kind: 'resignation-link'; by: string; expiresAt: string; linkBase: string };

export interface StatusChangeInput {
  tenantId: string;
  memberId: string;
  change: StatusChange;
}

export type StatusChangeWorkflow = (input: StatusChangeInput) => Promise<StatusChangeOutcome>;

export interface StatusChangeOutcome {
  /** applied: the change is recorded (a suspension: and has ended); refused: it was not. */
  outcome: 'applied' | 'refused' | 'lifted' | 'expelled' | 'proposal-void';
}

export interface AppliedResult {
  workflowId: string;
  status: string;
}

export interface LiftMessage {
  by: string;
}

export interface ConfirmMessage {
  by: string;
  note?: string | null;
}

/** Update-with-Start: answers once the change is recorded, or with the refusal. */
export const appliedUpdate = defineUpdate<AppliedResult, []>('applied');
/** Lifts a suspension before it ends; answers once it is lifted. */
export const liftUpdate = defineUpdate<AppliedResult, [LiftMessage]>('lift');
/** Confirms a proposed expulsion; answers once the member is expelled, or with the refusal. */
export const confirmUpdate = defineUpdate<AppliedResult, [ConfirmMessage]>('confirm');
export const changeQuery = defineQuery<{ stage: string }>('change');

export function statusChangeWorkflowId(kind: StatusChangeKind, tenantId: string, memberId: string, n: number | string): string {
  return `${kind}-${tenantId}-${memberId}-${n}`;
}
