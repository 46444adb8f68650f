import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { TransferActivities } from '../../activities/transfers/index.ts';
import type { TransferLinkInput } from '../../src/transfers/transfer-contract.ts';

const mail = proxyActivities<TransferActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 20 },
});

/** Emails a member the link through which they ask to move to another ward; the secret never enters the history. */
export async function transferLink(input: TransferLinkInput): Promise<'sent' | 'already-sent' | 'no-address'> {
  return mail.sendTransferLinkEmail({ tenantId: input.tenantId, memberId: input.memberId, workflowId: workflowInfo().workflowId }, input.expiresAt);
}
