import { proxyActivities } from '@temporalio/workflow';
import type { RenewalActivities } from '../../activities/renewals/index.ts';
import type { RenewalRunReport } from '../../src/renewals/renewal-contract.ts';

const { startDueRenewals } = proxyActivities<RenewalActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 20 },
});

/** Started by the daily renewal Schedule (src/temporal/schedules.ts): starts every due member's renewal once. */
export async function renewalRun(): Promise<RenewalRunReport> {
  return startDueRenewals();
}
