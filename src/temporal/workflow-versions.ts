import type { Client } from '@temporalio/client';
import { PATCHES } from './workflow-patches.ts';
import { WORKFLOW_TYPES } from './workflow-types.ts';

/** Which running workflows to count: of one party (its tenant id), started before a time. */
export interface VersionFilter {
  tenantId?: string | undefined;
  startedBefore?: Date | undefined;
}

export interface WorkflowTypeCount {
  workflowType: string;
  running: number;
  query: string;
}

export interface PatchCount {
  patchId: string;
  workflowType: string;
  summary: string;
  /** Running workflows of the type whose history carries the patch's marker. */
  taken: number;
  /** Running workflows of the type whose history does not (yet) carry it. */
  notTaken: number;
  /** The visibility query that lists the ones that have not taken it. */
  notTakenQuery: string;
}

/**
 * The visibility query for running workflows of a type. Every value in it is validated before
 * (a workflow type and patch id from our own lists, a tenant UUID, an ISO time), so quoting is safe.
 */
export function runningQuery(workflowType: string, filter: VersionFilter = {}): string {
  const clauses = [`WorkflowType = '${workflowType}'`, `ExecutionStatus = 'Running'`];
  if (filter.tenantId !== undefined) clauses.push(`TenantId = '${filter.tenantId}'`);
  if (filter.startedBefore !== undefined) clauses.push(`StartTime < '${filter.startedBefore.toISOString()}'`);
  return clauses.join(' AND ');
}

/**
 * `patched(id)` upserts the TemporalChangeVersion search attribute (a keyword list of the
 * patch ids the workflow took) when it records its marker; a workflow that has not reached the
 * patched code, or started before the patch existed, lacks the id.
 */
export const takenQuery = (workflowType: string, patchId: string, filter: VersionFilter = {}): string =>
  `${runningQuery(workflowType, filter)} AND TemporalChangeVersion = '${patchId}'`;

export const notTakenQuery = (workflowType: string, patchId: string, filter: VersionFilter = {}): string =>
  `${runningQuery(workflowType, filter)} AND TemporalChangeVersion != '${patchId}'`;

/**
 * Counts, from Temporal visibility, the running workflows of each type and, for each patch of
 * src/temporal/workflow-patches.ts, those that have not taken it (running minus taken: the count does not
 * depend on how the visibility store treats a workflow without the attribute).
 */
export async function countWorkflowVersions(client: Client, filter: VersionFilter = {}): Promise<{ types: WorkflowTypeCount[]; patches: PatchCount[] }> {
  const count = async (query: string) => (await client.workflow.count(query)).count;
  const types = await Promise.all(WORKFLOW_TYPES.map(async (workflowType) => {
    const query = runningQuery(workflowType, filter);
    return { workflowType, running: await count(query), query };
  }));
  const patches = await Promise.all(PATCHES.map(async (patch) => {
    const running = types.find((type) => type.workflowType === patch.workflowType)?.running ?? await count(runningQuery(patch.workflowType, filter));
    const taken = await count(takenQuery(patch.workflowType, patch.id, filter));
    return {
      patchId: patch.id, workflowType: patch.workflowType, summary: patch.summary,
      taken, notTaken: Math.max(running - taken, 0), notTakenQuery: notTakenQuery(patch.workflowType, patch.id, filter),
    };
  }));
  return { types, patches };
}
