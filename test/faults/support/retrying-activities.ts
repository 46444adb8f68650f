import type { Client } from '@temporalio/client';

/**
 * Activities of the party's running lifecycles that have failed at least once and are being
 * retried: with unlimited retries, a lifecycle whose activity cannot succeed is wedged for good.
 */
export async function retryingActivities(client: Client, tenantId: string): Promise<string[]> {
  const retrying: string[] = [];
  for await (const execution of client.workflow.list({ query: `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'` })) {
    const { raw } = await client.workflow.getHandle(execution.workflowId).describe();
    for (const activity of raw.pendingActivities ?? []) {
      if ((activity.attempt ?? 0) < 2) continue;
      retrying.push(`${execution.workflowId}: ${activity.activityType?.name ?? '?'} attempt ${activity.attempt}: ${activity.lastFailure?.message ?? ''}`);
    }
  }
  return retrying;
}
