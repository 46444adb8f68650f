import { log, proxyActivities } from '@temporalio/workflow';
import type { ReconciliationRunActivities } from '../../activities/payments/reconciliation-run.ts';
import type { ReconciliationRunReport } from '../../src/payments/reconciliation-run.ts';
import { STEP_OPTIONS } from '../activity-options.ts';

const { reconciliationTargets } = proxyActivities<ReconciliationRunActivities>(STEP_OPTIONS);
const { reconcileGatewayDay } = proxyActivities<ReconciliationRunActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 20 },
});

/**
 * Started daily by the `payment-reconciliation` Schedule (src/temporal/schedules.ts): for each
 * party and each gateway it takes payments through, asks the gateway about every attempt of the
 * party's previous day (or of `day`, when given) and compares the answers with what was
 * recorded. Differences land in the reconciliation queue once; the counts in
 * payment_reconciliation_runs, overwritten by a repeated run of the same day.
 */
export async function paymentReconciliationRun(input: { day?: string } = {}): Promise<ReconciliationRunReport> {
  const targets = await reconciliationTargets(input.day ?? null);
  const report: ReconciliationRunReport = { parties: new Set(targets.map((t) => t.tenantId)).size, gateways: targets.length, attempts: 0, differences: 0, unreachable: 0 };
  for (const target of targets) {
    try {
      const counts = await reconcileGatewayDay(target);
      report.attempts += counts.attempts;
      report.differences += counts.differences;
      report.unreachable += counts.unreachable;
    } catch (err) {
      // One party's gateway day failing for good does not stop the others'; the run says which failed.
      log.warn('reconciliation of a gateway day failed', { tenantId: target.tenantId, gateway: target.gateway, error: String(err) });
      report.failed = [...(report.failed ?? []), { tenantId: target.tenantId, gateway: target.gateway }];
    }
  }
  return report;
}
