import { sql } from 'slonik';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { appendToStream, readStream, readStreamForCommand, VersionConflictError, type EventMetadata, type FormerKey } from '../events/event-store.ts';
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
  /** The key the same step used before, when it did not name its command (lifecycles started earlier). */
  formerly?: FormerKey;
}

export interface CommandOutcome {
  state: MemberState;
  events: MemberEvent[];
  /** False when the step had already run: nothing was written this time. */
  applied: boolean;
}

/**
 * Loads the member from its events, decides, updates the members row and appends the new
 * events at the expected version, all in the caller's transaction.
 *
 * `alongside` runs only when the command produces events (not on a retry of a step that
 * already ran), after the decision and before the append: the step's other writes go there,
 * so the append, whose trigger takes the tenant's chain-head lock until commit, is the
 * transaction's last statement and the lock is held for one round trip and the commit.
 * @throws MemberRuleError when the member's state forbids the command; VersionConflictError on a race
 *   (including the same step committed by a concurrent attempt since the read).
 */
export async function executeMemberCommand(
  tx: TenantTransaction,
  context: CommandContext,
  command: MemberCommand,
  alongside?: (outcome: CommandOutcome) => Promise<void>,
): Promise<CommandOutcome> {
  const { events: stored, keyUsed } = await readStreamForCommand(tx, context.memberId, context.idempotencyKey, context.formerly);
  const state = replay(stored.map((e) => ({ type: e.type, payload: e.payload }) as MemberEvent));
  if (keyUsed) return { state, events: [], applied: false };
  const events = decide(command, state);
  const next = events.reduce(evolve, state);
  const outcome: CommandOutcome = { state: next, events, applied: true };
  if (alongside) await alongside(outcome);
  await projectMember(tx, context.memberId, next, events);
  const { appended, version } = await appendToStream(tx, {
    tenantId: context.tenantId,
    aggregateType: MEMBER_AGGREGATE,
    aggregateId: context.memberId,
    expectedVersion: state.version,
    events,
    metadata: context.metadata,
    idempotencyKey: context.idempotencyKey,
  });
  // The same step committed in between (a concurrent attempt): roll this one back; its retry
  // finds the step done.
  if (!appended) throw new VersionConflictError(context.memberId, state.version, version);
  return outcome;
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
