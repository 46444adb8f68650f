import type { Refusal } from './admission-rules.ts';
import type { MemberStatus } from './member-status.ts';

/**
 * The rules of status changes after admission (docs/membership.md, "Status changes"), kept
 * once: the member aggregate checks them before it records an event, and the API before it
 * starts a workflow, so the two cannot disagree. Pure: no I/O, no clock.
 */

/** Why a member is suspended or expelled: a word from this list (it enters the event stream). */
export const DISCIPLINE_REASONS = ['misconduct', 'indiscipline', 'anti_party_activity', 'criminal_conviction', 'other'] as const;
export type DisciplineReason = (typeof DISCIPLINE_REASONS)[number];

/** Why a member resigns. */
export const RESIGNATION_REASONS = ['personal', 'joined_another_party', 'disagreement', 'health', 'other'] as const;
export type ResignationReason = (typeof RESIGNATION_REASONS)[number];

/** A pending expulsion: who proposed it, why, and as head of which committee. */
export interface ExpulsionProposal {
  by: string;
  reasonCode: DisciplineReason;
  committeeId: string;
}

export interface StandingPosition {
  status: MemberStatus | 'new';
  expulsionProposal: ExpulsionProposal | null;
}

const refuse = (code: Refusal['code'], message: string, field?: string): Refusal => (field ? { code, message, field } : { code, message });

/** Suspension, an expulsion proposal and resignation: only an active member. */
export function activeRefusal(position: StandingPosition, what: string): Refusal | null {
  return position.status === 'active' ? null : refuse('MEMBER_NOT_ACTIVE', `only an active member can ${what}; the member is ${position.status}`);
}

export function proposalRefusal(position: StandingPosition): Refusal | null {
  return activeRefusal(position, 'be proposed for expulsion')
    ?? (position.expulsionProposal ? refuse('EXPULSION_ALREADY_PROPOSED', 'an expulsion of this member is already proposed and awaits confirmation') : null);
}

/** The confirmation needs a pending proposal and another person than its proposer. */
export function confirmationRefusal(position: StandingPosition, by: string): Refusal | null {
  const inactive = activeRefusal(position, 'be expelled');
  if (inactive) return inactive;
  if (!position.expulsionProposal) return refuse('EXPULSION_NOT_PROPOSED', 'no expulsion of this member is proposed');
  if (position.expulsionProposal.by === by) return refuse('EXPULSION_SAME_PERSON', 'the head who proposed the expulsion cannot confirm it: a head of the parent committee must');
  return null;
}

export function liftRefusal(position: StandingPosition): Refusal | null {
  return position.status === 'suspended' ? null : refuse('MEMBER_NOT_SUSPENDED', `the member is ${position.status}, not suspended`);
}

/** Statuses a death can be recorded from: an admitted member who has not left the party. */
const DEATH_FROM: readonly (MemberStatus | 'new')[] = ['active', 'suspended', 'lapsed'];

export function deathRefusal(position: StandingPosition): Refusal | null {
  return DEATH_FROM.includes(position.status) ? null : refuse('MEMBER_NOT_ACTIVE', `a death is recorded for an active, suspended or lapsed member; the member is ${position.status}`);
}
