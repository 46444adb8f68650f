import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { MEMBERSHIP_TASK_QUEUE } from './task-queue.ts';

export const CHAIN_ANCHORING_SCHEDULE_ID = 'event-chain-anchoring';

/**
 * The Schedule that anchors every party's event chain (workflow `eventChainAnchoring`) every
 * `everyMinutes`, skipping a run while the previous one still runs. Created by the worker at
 * start; an existing Schedule keeps its history and takes the configured interval.
 */
export async function ensureChainAnchoringSchedule(client: Client, everyMinutes: number): Promise<void> {
  const spec = { intervals: [{ every: `${everyMinutes}m` as const }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'eventChainAnchoring',
    workflowId: CHAIN_ANCHORING_SCHEDULE_ID,
    taskQueue: MEMBERSHIP_TASK_QUEUE,
    args: [],
  };
  try {
    await client.schedule.create({ scheduleId: CHAIN_ANCHORING_SCHEDULE_ID, spec, action, policies: { overlap: 'SKIP', catchupWindow: '1 hour' } });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(CHAIN_ANCHORING_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action }));
  }
}
