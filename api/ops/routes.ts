import type { WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { MemberId, MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';
import { AFTER_ADMISSION_STAGES, MEMBER_STAGES } from '../../src/members/member-status.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import type { RouteRegistry } from '../http/route.ts';

const StuckQuery = z.object({
  stage: z.enum([...MEMBER_STAGES, ...AFTER_ADMISSION_STAGES])
    .describe('the MemberStage the workflows wait in: a lifecycle stage, or one after admission (a transfer, a suspension, an expulsion proposal, a renewal)'),
  olderThanMinutes: z.coerce.number().int().min(0).max(525_600).default(60).describe('waiting in the stage for longer than this'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const StuckLifecycle = z.object({
  type: z.literal('stuck-lifecycles'),
  id: z.string().describe('the workflow id'),
  attributes: z.object({
    workflowType: z.string().describe('memberLifecycle, memberTransfer, memberStatusChange, ...'),
    memberId: z.string().nullable(), stage: z.string(), stageEnteredAt: z.string().nullable(), startedAt: z.string(),
  }),
});
const StuckList = z.object({
  data: z.array(StuckLifecycle),
  meta: z.object({ stage: z.string(), enteredBefore: z.string(), count: z.number().int(), truncated: z.boolean() }),
});

function toResource(execution: WorkflowExecutionInfo): z.infer<typeof StuckLifecycle> {
  const attributes = execution.typedSearchAttributes;
  return {
    type: 'stuck-lifecycles',
    id: execution.workflowId,
    attributes: {
      workflowType: execution.type,
      memberId: attributes.get(MemberId) ?? null,
      stage: attributes.get(MemberStage) ?? 'unknown',
      stageEnteredAt: attributes.get(StageEnteredAt)?.toISOString() ?? null,
      startedAt: execution.startTime.toISOString(),
    },
  };
}

export function opsRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'temporal' | 'clock'>): void {
  registry.add({
    method: 'get',
    path: '/api/ops/stuck-lifecycles',
    summary: "Running lifecycles of the caller's party that have waited in a stage for longer than olderThanMinutes (ops, tenant_admin)",
    tag: 'ops',
    access: 'user',
    query: StuckQuery,
    responses: { 200: { description: 'from Temporal visibility, which lags the workflows by a moment', schema: StuckList } },
    async handler({ query, auth: user }) {
      if (!hasRole(user, 'ops', 'tenant_admin')) throw ApiError.forbidden('stuck lifecycles are for ops or tenant_admin');
      const enteredBefore = new Date(deps.clock().getTime() - query.olderThanMinutes * 60_000).toISOString();
      // Every value is validated (the tenant id is a UUID, the stage one of the lists), so quoting is safe.
      const visibility = `TenantId = '${user.tenantId}' AND MemberStage = '${query.stage}' AND StageEnteredAt < '${enteredBefore}' AND ExecutionStatus = 'Running'`;
      const data: z.infer<typeof StuckLifecycle>[] = [];
      let truncated = false;
      for await (const execution of deps.temporal.workflow.list({ query: visibility, pageSize: Math.min(query.limit + 1, 1000) })) {
        if (data.length === query.limit) {
          truncated = true;
          break;
        }
        data.push(toResource(execution));
      }
      return { status: 200, body: { data, meta: { stage: query.stage, enteredBefore, count: data.length, truncated } } };
    },
  });
}
