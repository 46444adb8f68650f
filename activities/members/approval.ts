import { CommitteeError } from '../../src/committees/committee-error.ts';
import { parentCommittee as committeeAbove } from '../../src/committees/committees.ts';
import type { MemberCommand } from '../../src/members/member-aggregate.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

/** Waiting for a committee head: reminders, escalation, and the head's decision, one transaction each. */
export function createApprovalActivities(deps: MemberActivityDeps) {
  // Both decisions share the step key 'decision': whichever was recorded first is the one.
  const run = (step: StepContext, key: string, command: MemberCommand, actor?: string) =>
    inTenant(deps, step, (tx) => executeMemberCommand(tx, stepCommand(step, key, actor), command)).then(() => undefined);

  return {
    recordReminder: (step: StepContext, committeeId: string | null) => run(step, 'remind', { type: 'RemindCommittee', committeeId }),
    recordEscalation: (step: StepContext, fromCommitteeId: string | null, toCommitteeId: string | null) =>
      run(step, 'escalate', { type: 'Escalate', fromCommitteeId, toCommitteeId }),
    recordApproval: (step: StepContext, by: string, note: string | null) => run(step, 'decision', { type: 'Approve', by, note }, by),
    recordRejection: (step: StepContext, by: string, reason: string) => run(step, 'decision', { type: 'Reject', by, reason }, by),

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
