import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerDeploymentOptions } from '@temporalio/worker';
import { createChainAnchoringActivities } from '../../activities/events/chain-anchoring.ts';
import { createMemberActivities, type MemberActivityDeps } from '../../activities/members/index.ts';
import { createPaymentActivities } from '../../activities/payments/index.ts';
import { createRenewalActivities } from '../../activities/renewals/index.ts';
import { createTransferActivities } from '../../activities/transfers/index.ts';
import { createReconciliationRunActivities } from '../../activities/payments/reconciliation-run.ts';
import { projectRoot } from '../paths.ts';
import { MEMBERSHIP_TASK_QUEUE } from './task-queue.ts';
import { tracingWorkerOptions, WORKFLOW_TRACING_INTERCEPTORS } from './tracing-interceptors.ts';
import { prebuiltWorkflowBundle } from './workflow-bundle.ts';

export const WORKFLOWS_PATH = path.join(projectRoot, 'workflows', 'index.ts');

export interface MembershipWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: MemberActivityDeps;
  /** The daily renewal run starts renewal workflows with it. */
  temporal?: Client | undefined;
  /** A pre-built bundle (tests); without one, `npm run build:workflows`'s when it is as new as its sources (src/temporal/workflow-bundle.ts), else the workflows are bundled at start. */
  workflowBundlePath?: string | undefined;
  shutdownGraceTimeMs?: number;
  /** Workflows kept in memory between their tasks (WORKER_MAX_CACHED_WORKFLOWS); the SDK's default, sized by the heap limit, without. */
  maxCachedWorkflows?: number | undefined;
  /** Worker versioning: the deployment version this worker serves (src/temporal/worker-deployment.ts); unversioned without. */
  deployment?: WorkerDeploymentOptions | undefined;
  /** The encrypting data converter (src/temporal/payload-codec.ts temporalDataConverter with failures), the same as the clients'. */
  dataConverter?: DataConverter | undefined;
}

/** The one worker of the product: every member lifecycle, renewal and transfer, and the event chains' anchoring, on the membership task queue. */
export async function createMembershipWorker(options: MembershipWorkerOptions): Promise<Worker> {
  const bundlePath = options.workflowBundlePath ?? prebuiltWorkflowBundle().path;
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
