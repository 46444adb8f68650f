import type { Client } from '@temporalio/client';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

/**
 * Worker versioning (Temporal Worker Deployments; docs/workflow-rollout.md, "Deploying workers").
 * A worker started with a build id belongs to the deployment version `<deployment>:<build id>`
 * and takes tasks only once that version is the deployment's current one. Every workflow runs
 * AUTO_UPGRADE: at its next task it moves to the current version, which is safe because every
 * change to a workflow's commands is behind `patched()`. (PINNED would keep a lifecycle that
 * waits months for a renewal on the build that started it, and that build's workers with it.)
 */
export function workerDeploymentOptions(deploymentName: string, buildId: string | undefined): WorkerDeploymentOptions | undefined {
  if (buildId === undefined) return undefined;
  return { useWorkerVersioning: true, version: { deploymentName, buildId }, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}

/** temporal.api.enums.v1.WorkerDeploymentVersionStatus, by number. */
const STATUS_NAMES: Record<number, string> = { 1: 'inactive', 2: 'current', 3: 'ramping', 4: 'draining', 5: 'drained' };

/** A gRPC refusal because the version has no pollers yet (its workers have not started polling). */
const NOT_POLLED_YET = /no Worker Deployment found|does your Worker Deployment have pollers|not found/i;

/**
 * Makes `buildId` the deployment's current version: new workflow tasks of every AUTO_UPGRADE
 * workflow go to its workers from now on. Waits (up to `waitMs`) for the version's workers to
 * have polled, which the server requires first.
 * @throws the server's refusal once `waitMs` has passed.
 */
export async function setCurrentBuild(client: Client, deploymentName: string, buildId: string, options: { identity: string; waitMs?: number }): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({ namespace: client.options.namespace, deploymentName, buildId, identity: options.identity });
      return;
    } catch (err) {
      if (!NOT_POLLED_YET.test((err as Error).message) || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export interface DeploymentVersion {
  buildId: string;
  status: string;
  /** Running workflows whose last task ran on this version (Temporal visibility). */
  running: number;
  /** The visibility query that lists them. */
  query: string;
}

/**
 * The deployment's versions, newest first as the server lists them, each with its status
 * (current, ramping, draining, drained, inactive) and the running workflows still on it: a
 * version's workers may stop once it is drained or has none running.
 */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentVersion[]> {
  const described = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName });
  const versions = described.workerDeploymentInfo?.versionSummaries ?? [];
  return Promise.all(versions.map(async (version) => {
    const buildId = version.deploymentVersion?.buildId ?? '';
    const query = `TemporalWorkerDeploymentVersion = "${deploymentName}:${buildId}" AND ExecutionStatus = "Running"`;
    const { count } = await client.workflow.count(query);
    return { buildId, status: STATUS_NAMES[version.status ?? 0] ?? 'unspecified', running: count, query };
  }));
}
