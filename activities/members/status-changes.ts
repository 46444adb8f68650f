import { revokeCardOnLeaving, type LeavingReason } from '../../src/cards/card-revocation.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { readMemberRecipient, recordDelivery } from '../../src/mail/mail-deliveries.ts';
import * as templates from '../../src/mail/templates.ts';
import type { MemberCommand } from '../../src/members/member-aggregate.ts';
import { executeMemberCommand, type CommandOutcome } from '../../src/members/member-store.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import { resignationLink, resignationToken } from '../../src/members/resignation-link.ts';
import { readStanding, recordStatusFields, type StatusFields } from '../../src/members/status-change-store.ts';
import type { StatusChange } from '../../src/members/status-change-contract.ts';
import type { MemberActivityDeps, StepContext } from './deps.ts';

/** What a recorded step left: the member's status after it. */
export interface StatusStep {
  status: string;
  memberNumber: string | null;
  /** False when the step had already run (a retry): nothing was written this time. */
  applied: boolean;
}

type Change = Exclude<StatusChange, { kind: 'resignation-link' }>;

/**
 * The status-change workflow's steps. Each runs in one tenant transaction whose actor is the
 * person who asked (the audit rows of the members and id_cards rows name them): the member
 * command (event, keyed `<workflow id>:<step>` so a retry writes nothing), the members row's
 * status, reason and dates, and the card revocation when the member leaves good standing.
 */
export function createStatusChangeActivities(deps: MemberActivityDeps) {
  async function inTenantAs<T>(step: StepContext, actor: string, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    try {
      return await withTenant(deps.pool, { tenantId: step.tenantId, actor }, work);
    } catch (err) {
      throw toActivityFailure(err);
    }
  }

  async function run(
    step: StepContext, name: string, actor: string, command: MemberCommand,
    row: (outcome: CommandOutcome) => StatusFields | null,
    leaving: LeavingReason | null,
  ): Promise<StatusStep> {
    return inTenantAs(step, actor, async (tx) => {
      const context = { tenantId: step.tenantId, memberId: step.memberId, metadata: { actor, workflowId: step.workflowId }, idempotencyKey: `${step.workflowId}:${name}` };
      const outcome = await executeMemberCommand(tx, context, command, async (o) => {
        const fields = row(o);
        if (fields) await recordStatusFields(tx, step.memberId, fields);
      });
      // After the member's own event (the revocation appends the next one); a retry finds no current card.
      if (leaving) await revokeCardOnLeaving(tx, step.tenantId, step.memberId, actor, leaving);
      return { status: outcome.state.status, memberNumber: outcome.state.memberNumber, applied: outcome.applied };
    });
  }

  return {
    /** Records the change the workflow was started for. @throws the member rule's refusal (MEMBER_NOT_ACTIVE, ...). */
    async applyStatusChange(step: StepContext, change: Change): Promise<StatusStep> {
      switch (change.kind) {
        case 'suspension':
          return run(step, 'apply', change.by, { type: 'Suspend', until: change.until, reasonCode: change.reasonCode },
            () => ({ reason: change.reasonCode, note: change.note, until: change.until }), 'suspended');
        case 'expulsion':
          // A proposal changes no status: the event alone, and the member row's version.
          return run(step, 'apply', change.by, { type: 'ProposeExpulsion', by: change.by, reasonCode: change.reasonCode, committeeId: change.committeeId }, () => null, null);
        case 'resignation':
          return run(step, 'apply', change.by, { type: 'Resign', via: change.via, reasonCode: change.reasonCode },
            () => ({ reason: change.reasonCode, note: change.note, until: null }), 'resigned');
        case 'death':
          return run(step, 'apply', change.by, { type: 'RecordDeath', recordedBy: change.by },
            () => ({ reason: 'deceased', note: change.note, until: null }), 'deceased');
      }
    },

    /** Ends a suspension: when its date comes (by the workflow), or early (by a head or the party's admin). */
    async liftSuspension(step: StepContext, lift: { by: string; early: boolean }): Promise<StatusStep> {
      return run(step, 'lift', lift.by, { type: 'LiftSuspension', early: lift.early }, () => ({ reason: null, note: null, until: null }), null);
    },

    /** Expels on a confirmed proposal. @throws EXPULSION_SAME_PERSON, MEMBER_NOT_ACTIVE, EXPULSION_NOT_PROPOSED */
    async confirmExpulsion(step: StepContext, confirmation: { by: string; note: string | null }): Promise<StatusStep & { reasonCode: string }> {
      let reasonCode = '';
      const result = await run(step, 'confirm', confirmation.by, { type: 'ConfirmExpulsion', by: confirmation.by }, (outcome) => {
        const expelled = outcome.events.find((e) => e.type === 'MemberExpelled');
        reasonCode = expelled?.type === 'MemberExpelled' ? expelled.payload.reasonCode : 'other';
        return { reason: reasonCode, note: confirmation.note, until: null };
      }, 'expelled');
      // A retry of a step that ran: the reason is the one it recorded.
      if (!reasonCode) reasonCode = (await inTenantAs(step, confirmation.by, (tx) => readStanding(tx, step.memberId)))?.reason ?? 'other';
      return { ...result, reasonCode };
    },

    /**
     * Emails an active member the link that resigns them, once per workflow (a retry finds the
     * delivery recorded). The token is made here, from the party's keys: it is never in the
     * workflow's history. @returns what happened.
     */
    async sendResignationLink(step: StepContext, request: { expiresAt: string; linkBase: string }): Promise<'sent' | 'already-sent' | 'no-address' | 'not-active'> {
      const key = `${step.workflowId}:mail:resignation-link`;
      const prepared = await inTenantAs(step, `workflow:${step.workflowId}`, async (tx) => {
        const row = await readMemberRecipient(tx, step.memberId, key);
        const standing = await readStanding(tx, step.memberId);
        if (!row || standing?.status !== 'active') return 'not-active' as const;
        if (row.sent) return 'already-sent' as const;
        if (!row.emailEnc) return 'no-address' as const;
        const keys = await deps.keyring.forTenant(tx, step.tenantId);
        const token = resignationToken(keys, step.tenantId, step.memberId, request.expiresAt);
        return { row, email: decryptField(keys, step.memberId, 'email', row.emailEnc), link: resignationLink(request.linkBase, step.memberId, request.expiresAt, token) };
      });
      if (typeof prepared === 'string') return prepared;
      const content = templates.resignationLink({ recipientName: prepared.row.name, partyName: prepared.row.partyName, link: prepared.link, expiresAt: new Date(request.expiresAt) });
      let messageId: string;
      try {
        ({ messageId } = await deps.mailer.send({ ...content, to: prepared.email, idempotencyKey: key }));
      } catch (err) {
        throw toActivityFailure(err);
      }
      await inTenantAs(step, `workflow:${step.workflowId}`, (tx) => recordDelivery(tx, { tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: key, kind: 'resignation-link', messageId }));
      return 'sent';
    },
  };
}
