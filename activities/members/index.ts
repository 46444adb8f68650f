import { createActivationActivities } from './activation.ts';
import { createDecisionActivities } from './decisions.ts';
import type { MemberActivityDeps } from './deps.ts';
import { createNotificationActivities } from './notifications.ts';
import { createRegistrationActivities } from './registration.ts';

export type { MemberActivityDeps, StepContext } from './deps.ts';

/** Every activity of the member lifecycle, bound to its dependencies. */
export function createMemberActivities(deps: MemberActivityDeps) {
  return {
    ...createRegistrationActivities(deps),
    ...createDecisionActivities(deps),
    ...createActivationActivities(deps),
    ...createNotificationActivities(deps),
  };
}

export type MemberActivities = ReturnType<typeof createMemberActivities>;
