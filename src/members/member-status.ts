/**
 * The three names a member's position goes by, and how they map onto each other:
 * - the lifecycle stage: where the workflow is (also the MemberStage search attribute);
 * - the stored status: the `members.status` column (the `member_status` enum), what search
 *   filters and statistics count;
 * - the public status: what an applicant is told (`pending` until a decision is final).
 */

export const MEMBER_STAGES = [
  'Registered', 'AwaitingApproval', 'Rejected', 'Approved', 'AwaitingPayment', 'Expired',
  'Paid', 'Active', 'CardIssued', 'Withdrawn', 'RegistrationRefused',
] as const;
export type MemberStageName = (typeof MEMBER_STAGES)[number];

/**
 * The MemberStage of the workflows after admission, set when they start (a status change, a
 * transfer) or upserted as they go (a renewal), so the stuck listing finds them:
 * a transfer waiting for a head of the destination; a suspension waiting for its end; an
 * expulsion proposal waiting for a head of the parent committee; a renewal waiting for its
 * payment; a term lapsed, waiting out the reinstatement window.
 */
export const AFTER_ADMISSION_STAGES = [
  'AwaitingTransferDecision', 'Suspended', 'AwaitingExpulsionConfirmation', 'AwaitingRenewalPayment', 'TermLapsed',
] as const;
export type AfterAdmissionStageName = (typeof AFTER_ADMISSION_STAGES)[number];

export const MEMBER_STATUSES = [
  'awaiting_approval', 'rejected', 'awaiting_payment', 'expired', 'withdrawn', 'active', 'lapsed',
  // After admission (docs/membership.md, "Status changes"); migrations/0024.
  'suspended', 'expelled', 'resigned', 'deceased',
] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export const PUBLIC_STATUSES = ['pending', 'rejected', 'expired', 'withdrawn', 'active', 'lapsed', 'suspended', 'expelled', 'resigned', 'deceased'] as const;
export type PublicStatus = (typeof PUBLIC_STATUSES)[number];

/**
 * The stored status while the lifecycle is in each stage; null before the member row exists
 * (Registered) and when it never will (RegistrationRefused). A Record, so a new stage must be
 * mapped before it compiles.
 */
export const STATUS_OF_STAGE: Readonly<Record<MemberStageName, MemberStatus | null>> = {
  Registered: null,
  AwaitingApproval: 'awaiting_approval',
  Approved: 'awaiting_approval',
  Rejected: 'rejected',
  AwaitingPayment: 'awaiting_payment',
  Paid: 'awaiting_payment',
  Expired: 'expired',
  Active: 'active',
  CardIssued: 'active',
  Withdrawn: 'withdrawn',
  RegistrationRefused: null,
};

const PUBLIC_OF_STATUS: Readonly<Record<MemberStatus, PublicStatus>> = {
  awaiting_approval: 'pending',
  awaiting_payment: 'pending',
  rejected: 'rejected',
  expired: 'expired',
  withdrawn: 'withdrawn',
  active: 'active',
  lapsed: 'lapsed',
  suspended: 'suspended',
  expelled: 'expelled',
  resigned: 'resigned',
  deceased: 'deceased',
};

/** Statuses a member leaves good standing into; their card is revoked naming it. */
export const LEFT_STANDING_STATUSES = ['suspended', 'expelled', 'resigned', 'deceased'] as const satisfies readonly MemberStatus[];

/** What applicants and staff call the status: pending until a decision is final. */
export function publicStatusOf(status: MemberStatus): PublicStatus {
  return PUBLIC_OF_STATUS[status];
}
