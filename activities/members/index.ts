import { createActivationActivities } from './activation.ts';
import { createAdmissionActivities } from './admission.ts';
import { createApprovalActivities } from './approval.ts';
import { createCardActivities } from './cards.ts';
import type { MemberActivityDeps } from './deps.ts';
import { createNotificationActivities } from './notifications.ts';
import { createPaymentActivities } from './payments.ts';
import { createRegistrationActivities } from './registration.ts';
import { createStatusChangeActivities } from './status-changes.ts';

export type { MemberActivityDeps, StepContext } from './deps.ts';

/** Every activity of the member lifecycle, bound to its dependencies; one file per feature. */
export function createMemberActivities(deps: MemberActivityDeps) {
  return {
    ...createRegistrationActivities(deps),
    ...createApprovalActivities(deps),
    ...createPaymentActivities(deps),
    ...createActivationActivities(deps),
    ...createAdmissionActivities(deps),
    ...createCardActivities(deps),
    ...createNotificationActivities(deps),
    ...createStatusChangeActivities(deps),
  };
}

export type MemberActivities = ReturnType<typeof createMemberActivities>;
