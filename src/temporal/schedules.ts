import { ScheduleAlreadyRunning, type Client, type ScheduleSpec } from '@temporalio/client';
import { PAYMENT_RECONCILIATION_SCHEDULE_ID, PAYMENT_RECONCILIATION_WORKFLOW } from '../payments/reconciliation-run.ts';
import { RENEWAL_RUN_WORKFLOW, RENEWAL_SCHEDULE_ID } from '../renewals/renewal-contract.ts';
import { MEMBERSHIP_TASK_QUEUE } from './task-queue.ts';

export const CHAIN_ANCHORING_SCHEDULE_ID = 'event-chain-anchoring';

/** The Schedule that anchors every party's event chain (workflow `eventChainAnchoring`) every `everyMinutes`; created by the worker at start. */
export async function ensureChainAnchoringSchedule(client: Client, everyMinutes: number): Promise<void> {
  await ensureSchedule(client, CHAIN_ANCHORING_SCHEDULE_ID, 'eventChainAnchoring', { intervals: [{ every: `${everyMinutes}m` }] }, '1 hour');
}

/**
 * Creates the Schedule that starts `workflowType` (id = the Schedule's) on `spec`, skipping a
 * start while the previous run still runs; an existing Schedule keeps its history and takes the
 * spec given now.
 */
async function ensureSchedule(client: Client, scheduleId: string, workflowType: string, spec: ScheduleSpec, catchupWindow: '1 hour' | '1 day'): Promise<void> {
  const action = { type: 'startWorkflow' as const, workflowType, workflowId: scheduleId, taskQueue: MEMBERSHIP_TASK_QUEUE, args: [] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP', catchupWindow } });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action }));
  }
}

/**
 * The daily renewal run (workflow `renewalRun`): every day at `hour`:`minute` in Asia/Kathmandu
 * it starts a renewal workflow for each member of every party whose renewal is due (each party's
 * "today" is its own zone's). A run still going when the next is due is not doubled; a run missed
 * while the server was down is made up within a day.
 */
export async function ensureRenewalSchedule(client: Client, at: { hour: number; minute: number }): Promise<void> {
  await ensureSchedule(client, RENEWAL_SCHEDULE_ID, RENEWAL_RUN_WORKFLOW, { calendars: [{ hour: at.hour, minute: at.minute }], timezone: 'Asia/Kathmandu' }, '1 day');
}

/**
 * The daily payment reconciliation (workflow `paymentReconciliationRun`): every day at
 * `hour`:`minute` in Asia/Kathmandu it compares, for each party and gateway, the gateway's
 * answers about the party's previous day's attempts with what was recorded. A run missed while
 * the server was down is made up within a day.
 */
export async function ensurePaymentReconciliationSchedule(client: Client, at: { hour: number; minute: number }): Promise<void> {
  await ensureSchedule(client, PAYMENT_RECONCILIATION_SCHEDULE_ID, PAYMENT_RECONCILIATION_WORKFLOW, { calendars: [{ hour: at.hour, minute: at.minute }], timezone: 'Asia/Kathmandu' }, '1 day');
}
