import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { TransferActivities } from '../../activities/transfers/index.ts';
import type { TransferLinkInput } from '../../src/transfers/transfer-contract.ts';
import { CARDS_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import { TRANSFER_LINK_CARDS_OWN_QUEUE } from '../../src/temporal/workflow-patches.ts';

const LINK_MAIL_OPTIONS = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 20 },
} as const;
const mail = proxyActivities<TransferActivities>(LINK_MAIL_OPTIONS);
// Links sent since TRANSFER_LINK_CARDS_OWN_QUEUE: from the card task queue, with every other email.
const mailQueue = proxyActivities<Pick<TransferActivities, 'sendTransferLinkEmail'>>({ ...LINK_MAIL_OPTIONS, taskQueue: CARDS_TASK_QUEUE });

/** Emails a member the link through which they ask to move to another ward; the secret never enters the history. */
export async function transferLink(input: TransferLinkInput): Promise<'sent' | 'already-sent' | 'no-address'> {
  return (patched(TRANSFER_LINK_CARDS_OWN_QUEUE) ? mailQueue : mail).sendTransferLinkEmail({ tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId }, input.expiresAt);
}
