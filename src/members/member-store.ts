import { sql } from 'slonik';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { appendToStream, readStream, type EventMetadata } from '../events/event-store.ts';
import type { MemberEvent } from './events.ts';
import { decide, evolve, replay, type MemberCommand, type MemberState } from './member-aggregate.ts';

export const MEMBER_AGGREGATE = 'Member';

export async function loadMember(tx: TenantTransaction, memberId: string): Promise<MemberState> {
  const stored = await readStream(tx, memberId);
  return replay(stored.map((e) => ({ type: e.type, payload: e.payload }) as MemberEvent));
}

export interface CommandContext {
  tenantId: string;
  memberId: string;
  metadata: EventMetadata;
  /** Typically `<workflow id>:<step>`: a retried step finds its events and changes nothing. */
  idempotencyKey: string;
}

export interface CommandOutcome {
  state: MemberState;
  events: MemberEvent[];
  /** False when the step had already run: nothing was written this time. */
  applied: boolean;
}

/**
 * Loads the member from its events, decides, appends the new events at the expected version
 * and updates the members row, all in the caller's transaction.
 * @throws MemberRuleError when the member's state forbids the command; VersionConflictError on a race.
 */
export async function executeMemberCommand(tx: TenantTransaction, context: CommandContext, command: MemberCommand): Promise<CommandOutcome> {
  const state = await loadMember(tx, context.memberId);
  if (await stepAlreadyApplied(tx, context.idempotencyKey)) return { state, events: [], applied: false };
  const events = decide(command, state);
  await appendToStream(tx, {
    tenantId: context.tenantId,
    aggregateType: MEMBER_AGGREGATE,
    aggregateId: context.memberId,
    expectedVersion: state.version,
    events,
    metadata: context.metadata,
    idempotencyKey: context.idempotencyKey,
  });
  const next = events.reduce(evolve, state);
  await projectMember(tx, context.memberId, next, events);
  return { state: next, events, applied: true };
}

async function stepAlreadyApplied(tx: TenantTransaction, idempotencyKey: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM event_store WHERE idempotency_key = ${idempotencyKey}`);
}

async function projectMember(tx: TenantTransaction, memberId: string, state: MemberState, events: MemberEvent[]): Promise<void> {
  if (state.status === 'new') return;
  const approved = events.some((e) => e.type === 'MemberApproved');
  const activated = events.some((e) => e.type === 'MemberActivated');
  await tx.query(sql.unsafe`
    UPDATE members SET status = ${state.status}, version = ${state.version}, updated_at = now(),
           approved_at = CASE WHEN ${approved} THEN now() ELSE approved_at END,
           activated_at = CASE WHEN ${activated} THEN now() ELSE activated_at END
    WHERE id = ${memberId}`);
}
