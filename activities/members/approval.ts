import { CommitteeError } from '../../src/committees/committee-error.ts';
import { parentCommittee as committeeAbove } from '../../src/committees/committees.ts';
import type { MemberCommand } from '../../src/members/member-aggregate.ts';
import type { FormerKey } from '../../src/events/event-store.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

const commandIn = (tx: TenantTransaction, step: StepContext, key: string, command: MemberCommand, actor?: string, formerly?: FormerKey) =>
  executeMemberCommand(tx, { ...stepCommand(step, key, actor), ...(formerly ? { formerly } : {}) }, command).then(() => undefined);

// A decision's key names it: after a reset, the other decision is not taken for this one
// already applied, and the admission rules refuse it (MEMBER_NOT_AWAITING_APPROVAL, final).
// Lifecycles started before shared `<workflow id>:decision` for both.
const formerDecision = (step: StepContext, eventType: string): FormerKey => ({ idempotencyKey: `${step.workflowId}:decision`, eventType });

/** Records a head's approval in `tx`, keyed `<workflow id>:decision:approve`: a retry appends nothing. */
export const recordApprovalIn = (tx: TenantTransaction, step: StepContext, by: string, note: string | null) =>
  commandIn(tx, step, 'decision:approve', { type: 'Approve', by, note }, by, formerDecision(step, 'MemberApproved'));

/** Waiting for a committee head: reminders, escalation, and the head's decision, one transaction each. */
export function createApprovalActivities(deps: MemberActivityDeps) {
  const run = (step: StepContext, key: string, command: MemberCommand, actor?: string, formerly?: FormerKey) =>
    inTenant(deps, step, (tx) => commandIn(tx, step, key, command, actor, formerly));

  return {
    recordReminder: (step: StepContext, committeeId: string | null) => run(step, 'remind', { type: 'RemindCommittee', committeeId }),
    recordEscalation: (step: StepContext, fromCommitteeId: string | null, toCommitteeId: string | null) =>
      run(step, 'escalate', { type: 'Escalate', fromCommitteeId, toCommitteeId }),
    recordApproval: (step: StepContext, by: string, note: string | null) => inTenant(deps, step, (tx) => recordApprovalIn(tx, step, by, note)),
    recordRejection: (step: StepContext, by: string, reason: string) =>
      run(step, 'decision:reject', { type: 'Reject', by, reason }, by, formerDecision(step, 'MemberRejected')),

    /** The committee whose heads decide after escalation: the one above the member's own; null at the top or without one. */
    async parentCommittee(step: StepContext, committeeId: string | null): Promise<string | null> {
      if (committeeId === null) return null;
      return inTenant(deps, step, async (tx) => {
        try {
          return (await committeeAbove(tx, committeeId))?.id ?? null;
        } catch (err) {
          if (err instanceof CommitteeError && err.code === 'COMMITTEE_NOT_FOUND') return null;
          throw err;
        }
      });
    },
  };
}
