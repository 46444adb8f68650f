import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { MemberId, MemberStage, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import * as r from './renewal-contract.ts';

/**
 * Starts the renewal of a member's term (`renewal-<tenant>-<member>-<term>`); a second start of
 * the same term is refused by Temporal (the id is never reused), so a renewal runs once.
 * @returns false when it was started before.
 */
export async function startRenewal(temporal: Client, tenantId: string, memberId: string, termNumber: number, startedBy: string): Promise<boolean> {
  try {
    await temporal.workflow.start(r.MEMBER_RENEWAL_WORKFLOW, {
      workflowId: r.renewalWorkflowId(tenantId, memberId, termNumber),
      taskQueue: MEMBERSHIP_TASK_QUEUE,
      args: [{ tenantId, memberId, termNumber, startedBy } satisfies r.MemberRenewalInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: TenantId, value: tenantId },
        { key: MemberId, value: memberId },
        { key: MemberStage, value: 'AwaitingRenewalPayment' },
        { key: StageEnteredAt, value: new Date() },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
