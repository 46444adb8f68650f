import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerDeploymentOptions, type WorkerInterceptors } from '@temporalio/worker';
import { createChainAnchoringActivities } from '../../activities/events/chain-anchoring.ts';
import { createMemberActivities, type MemberActivityDeps } from '../../activities/members/index.ts';
import { createCardActivities } from '../../activities/members/cards.ts';
import { createNotificationActivities } from '../../activities/members/notifications.ts';
import { createStatusChangeActivities } from '../../activities/members/status-changes.ts';
import { createPaymentActivities } from '../../activities/payments/index.ts';
import { createRenewalActivities } from '../../activities/renewals/index.ts';
import { createTransferActivities } from '../../activities/transfers/index.ts';
import { createReconciliationRunActivities } from '../../activities/payments/reconciliation-run.ts';
import { projectRoot } from '../paths.ts';
import { CARDS_TASK_QUEUE, MEMBERSHIP_TASK_QUEUE, type TaskQueueName } from './task-queue.ts';
import { tracingWorkerOptions, WORKFLOW_TRACING_INTERCEPTORS } from './tracing-interceptors.ts';

export const WORKFLOWS_PATH = path.join(projectRoot, 'workflows', 'index.ts');

export interface MembershipWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: MemberActivityDeps;
  /** The daily renewal run starts renewal workflows with it. */
  temporal?: Client | undefined;
  /** A pre-built bundle (the entry point passes `npm run build:workflows`'s while it is as new as its sources: src/temporal/workflow-bundle.ts; tests theirs); without one the workflows are bundled at start. */
  workflowBundlePath?: string | undefined;
  shutdownGraceTimeMs?: number;
  /** Workflows kept in memory between their tasks (WORKER_MAX_CACHED_WORKFLOWS); the SDK's default, sized by the heap limit, without. */
  maxCachedWorkflows?: number | undefined;
  /** Worker versioning: the deployment version this worker serves (src/temporal/worker-deployment.ts); unversioned without. */
  deployment?: WorkerDeploymentOptions | undefined;
  /** The encrypting data converter (src/temporal/payload-codec.ts temporalDataConverter with failures), the same as the clients'. */
  dataConverter?: DataConverter | undefined;
}

/**
 * The worker of the membership task queue: every member lifecycle, renewal and transfer, and the
 * event chains' anchoring, with all their activities (workflows started before they routed their
 * cards and mail to the card queue run those here too).
 */
export async function createMembershipWorker(options: MembershipWorkerOptions): Promise<Worker> {
  const bundlePath = options.workflowBundlePath;
  const activities = {
    ...createMemberActivities(options.deps), ...createTransferActivities(options.deps), ...createChainAnchoringActivities(options.deps),
    ...createRenewalActivities(options.deps, options.temporal), ...createPaymentActivities(options.deps, options.temporal),
    ...createReconciliationRunActivities(options.deps),
  };
  // Traces (src/temporal/tracing-interceptors.ts): the workflow interceptors are in the bundle; their spans' sink and the activities' here.
  const tracing = tracingWorkerOptions();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: MEMBERSHIP_TASK_QUEUE,
    activities,
    sinks: tracing.sinks,
    interceptors: { ...tracing.interceptors, ...(bundlePath ? {} : { workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] }) },
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: WORKFLOWS_PATH }),
    shutdownGraceTime: options.shutdownGraceTimeMs ?? 10_000,
    ...(options.maxCachedWorkflows !== undefined && { maxCachedWorkflows: options.maxCachedWorkflows }),
    ...(options.deployment ? { workerDeploymentOptions: options.deployment } : {}),
    ...(options.dataConverter && { dataConverter: options.dataConverter }),
  });
}

export type CardWorkerOptions = Pick<MembershipWorkerOptions, 'connection' | 'namespace' | 'deps' | 'shutdownGraceTimeMs' | 'deployment' | 'dataConverter'> & {
  /** Activity interceptors beside the tracing ones (tests inject crashes with them). */
  interceptors?: WorkerInterceptors | undefined;
};

/**
 * The activities of the card task queue: rendering, storing and recording ID cards, and every
 * email a workflow sends (a lifecycle's, a renewal's, a status change's with the resignation
 * link, a transfer's with its committee notices and its link).
 */
export function createCardQueueActivities(deps: MemberActivityDeps) {
  const statusChanges = createStatusChangeActivities(deps);
  const transfers = createTransferActivities(deps);
  return {
    ...createCardActivities(deps), ...createNotificationActivities(deps),
    sendResignationLink: statusChanges.sendResignationLink.bind(statusChanges),
    notifyTransferCommittees: transfers.notifyTransferCommittees.bind(transfers),
    sendTransferEmail: transfers.sendTransferEmail.bind(transfers),
    sendTransferLinkEmail: transfers.sendTransferLinkEmail.bind(transfers),
  };
}

/**
 * The worker of the card task queue (CARDS_TASK_QUEUE): activities only, no workflows, so the
 * CPU a card's PDF or a message's encoding takes never delays a workflow task when it runs in a
 * process of its own (WORKER_TASK_QUEUES).
 */
export async function createCardWorker(options: CardWorkerOptions): Promise<Worker> {
  const tracing = tracingWorkerOptions();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: CARDS_TASK_QUEUE,
    activities: createCardQueueActivities(options.deps),
    interceptors: { activity: [...tracing.interceptors.activity, ...(options.interceptors?.activity ?? [])] },
    shutdownGraceTime: options.shutdownGraceTimeMs ?? 10_000,
    ...(options.deployment ? { workerDeploymentOptions: options.deployment } : {}),
    ...(options.dataConverter && { dataConverter: options.dataConverter }),
  });
}

/** One worker per task queue `queues` names (WORKER_TASK_QUEUES), on the same connection. */
export async function createWorkers(queues: readonly TaskQueueName[], options: MembershipWorkerOptions): Promise<Worker[]> {
  return Promise.all(queues.map((queue) => (queue === MEMBERSHIP_TASK_QUEUE ? createMembershipWorker(options) : createCardWorker(options))));
}

/**
 * Runs the workers until every one has stopped (SIGTERM drains each: Worker.run's own signal
 * handling). One failing stops the others, and its error is thrown once they have drained.
 */
export async function runWorkers(workers: readonly Worker[]): Promise<void> {
  const results = await Promise.allSettled(workers.map((worker) => worker.run().catch((err: unknown) => {
    for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
    throw err;
  })));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}
