import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { DatabasePool } from 'slonik';
import { withTenant, type TenantContext } from '../db/tenant-context.ts';
import { fromFailure } from '../errors/temporal-failure.ts';
import { MemberId, MemberStage, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import type { AfterAdmissionStageName } from '../members/member-status.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import * as t from './transfer-contract.ts';
import { TransferError, openTransfer, type TransferRequest, type TransferView } from './transfers.ts';

/**
 * Records a transfer request and starts its workflow, in one tenant transaction: the workflow is
 * started before the commit, so a request is never recorded without one. (A workflow whose
 * request then failed to commit finds no transfer when it wakes and ends.)
 * @returns the transfer; null when the member is not in the tenant.
 * @throws what openTransfer throws.
 */
export async function requestTransfer(deps: { client: Client; pool: DatabasePool }, context: TenantContext,
  request: Omit<TransferRequest, 'transferId' | 'tenantId'>): Promise<TransferView | null> {
  return withTenant(deps.pool, context, async (tx) => {
    const transfer = await openTransfer(tx, { ...request, tenantId: context.tenantId, transferId: randomUUID() });
    if (!transfer) return null;
    await deps.client.workflow.start<t.MemberTransferWorkflow>(t.MEMBER_TRANSFER_WORKFLOW, {
      workflowId: transfer.workflowId,
      taskQueue: MEMBERSHIP_TASK_QUEUE,
      args: [{ tenantId: context.tenantId, memberId: request.memberId, transferId: transfer.id, decidesAt: new Date(transfer.decidesAt).toISOString() }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // The stage it waits in until a head decides or the window closes (the stuck listing's filter).
      typedSearchAttributes: [
        { key: TenantId, value: context.tenantId }, { key: MemberId, value: request.memberId },
        { key: MemberStage, value: 'AwaitingTransferDecision' satisfies AfterAdmissionStageName }, { key: StageEnteredAt, value: new Date() },
      ],
    });
    return transfer;
  });
}

/** Sends a head's decision to the transfer's workflow; a refusal comes back as the domain error it stands for. */
export async function sendTransferDecision<Args extends [unknown]>(client: Client, workflowId: string, update: UpdateDefinition<t.TransferOutcome, Args>,
  ...args: Args): Promise<t.TransferOutcome> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(update, { args });
  } catch (err) {
    throw fromFailure(err, (code, message, options) => new TransferError(code, message, options));
  }
}

/**
 * Starts the workflow that emails the member their transfer link, at most once per member and
 * hour (a repeat within the hour is the same workflow and sends nothing more).
 */
export async function sendTransferLink(client: Client, tenantId: string, memberId: string, now: Date, expiresAt: Date): Promise<void> {
  try {
    await client.workflow.start(t.TRANSFER_LINK_WORKFLOW, {
      workflowId: t.transferLinkWorkflowId(tenantId, memberId, now),
      taskQueue: MEMBERSHIP_TASK_QUEUE,
      args: [{ tenantId, memberId, expiresAt: expiresAt.toISOString() } satisfies t.TransferLinkInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantId, value: tenantId }, { key: MemberId, value: memberId }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
