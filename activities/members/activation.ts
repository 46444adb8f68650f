import { assignMemberNumber } from '../../src/members/member-number.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

export function createActivationActivities(deps: MemberActivityDeps) {
  return {
    /** Gives the member its number and makes it active; a retry keeps the number it got. */
    async activateMember(step: StepContext): Promise<{ memberNumber: string }> {
      return inTenant(deps, step, async (tx) => {
        const tenant = await findTenant(tx, step.tenantId);
        if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
        const memberNumber = await assignMemberNumber(tx, step.memberId, tenant, deps.clock());
        await executeMemberCommand(tx, stepCommand(step, 'activate'), { type: 'Activate', memberNumber });
        return { memberNumber };
      });
    },
  };
}
