import { proxyActivities } from '@temporalio/workflow';
import type { ChainAnchoringActivities } from '../../activities/events/chain-anchoring.ts';

const { anchorEventChains } = proxyActivities<ChainAnchoringActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 10 },
});

/** Started by the event-chain anchoring Schedule (src/temporal/schedules.ts): anchors every party's chain once. */
export async function eventChainAnchoring(): Promise<{ parties: number; anchored: number }> {
  return anchorEventChains();
}
