import { currentHeads } from '../../src/committees/committee-roles.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { isDelivered, readMemberRecipient, recordDelivery } from '../../src/mail/mail-deliveries.ts';
import type { MailContent } from '../../src/mail/mailer.ts';
import * as templates from '../../src/mail/templates.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import type { TransferRefusalReason, TransferStatus } from '../../src/transfers/transfer-contract.ts';
import { transferLinkToken } from '../../src/transfers/transfer-link.ts';
import { acceptTransfer, findTransfer, refuseTransfer, transferPlaces } from '../../src/transfers/transfers.ts';
import { actorOf, inTenant, type MemberActivityDeps, type StepContext } from '../members/deps.ts';

/** The activities of a member's transfer to another ward (workflows/transfers/). */
export function createTransferActivities(deps: MemberActivityDeps) {
  /** Sends once per key: a delivered message is recorded, and a retried step skips it. */
  async function deliverOnce(step: StepContext, key: string, kind: string, to: string, content: MailContent): Promise<'sent' | 'already-sent'> {
    if (await inTenant(deps, step, (tx) => isDelivered(tx, key))) return 'already-sent';
    let messageId: string;
    try {
      ({ messageId } = await deps.mailer.send({ ...content, to, idempotencyKey: key }));
    } catch (err) {
      throw toActivityFailure(err);
    }
    await inTenant(deps, step, (tx) => recordDelivery(tx, { tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: key, kind, messageId }));
    return 'sent';
  }

  /** The member to write to, their email decrypted (null without one). */
  async function member(step: StepContext, key: string) {
    return inTenant(deps, step, async (tx) => {
      const row = await readMemberRecipient(tx, step.memberId, key);
      if (!row) throw new Error(`member ${step.memberId} of tenant ${step.tenantId} not found`);
      const keys = await deps.keyring.forTenant(tx, step.tenantId);
      return { ...row, email: row.emailEnc ? decryptField(keys, step.memberId, 'email', row.emailEnc) : null };
    });
  }

  async function details(step: StepContext, transferId: string) {
    return inTenant(deps, step, async (tx) => {
      const transfer = await findTransfer(tx, transferId);
      const places = await transferPlaces(tx, transferId);
      if (!transfer || !places) return null;
      const heads = async (committeeId: string | null) => (committeeId ? currentHeads(tx, committeeId) : []);
      return { transfer, places, fromHeads: await heads(places.fromCommittee), toHeads: await heads(places.toCommittee) };
    });
  }

  return {
    /** Accepts the transfer in one tenant transaction (src/transfers/transfers.ts). @returns accepted, or cancelled. */
    async acceptMemberTransfer(step: StepContext, transferId: string, acceptedBy: string): Promise<TransferStatus> {
      return inTenant(deps, step, (tx) => acceptTransfer(tx, step.tenantId, transferId, acceptedBy, acceptedBy === 'window' ? actorOf(step) : acceptedBy));
    },

    /** Refuses the transfer with its reason code. */
    async refuseMemberTransfer(step: StepContext, transferId: string, refusedBy: string, reason: TransferRefusalReason): Promise<TransferStatus> {
      return inTenant(deps, step, (tx) => refuseTransfer(tx, step.tenantId, transferId, refusedBy, reason, refusedBy));
    },

    /**
     * Tells the heads of the committee covering the origin ward that the member asks to leave,
     * and those covering the destination that the transfer awaits them. @returns how many were emailed.
     */
    async notifyTransferCommittees(step: StepContext, transferId: string): Promise<number> {
      const found = await details(step, transferId);
      if (!found) return 0;
      const { transfer, places } = found;
      const party = await inTenant(deps, step, (tx) => readMemberRecipient(tx, step.memberId, ''));
      const notice = { partyName: party?.partyName ?? '', memberNumber: places.memberNumber ?? '—', fromWard: places.fromWard, toWard: places.toWard, decidesAt: new Date(transfer.decidesAt) };
      let sent = 0;
      for (const head of found.fromHeads) {
        await deliverOnce(step, `${step.workflowId}:mail:origin:${head.email}`, 'transfer-origin', head.email, templates.transferRequestedOrigin({ ...notice, recipientName: head.name }));
        sent++;
      }
      for (const head of found.toHeads) {
        await deliverOnce(step, `${step.workflowId}:mail:destination:${head.email}`, 'transfer-destination', head.email,
          templates.transferAwaitsDecision({ ...notice, recipientName: head.name, transferId }));
        sent++;
      }
      return sent;
    },

    /** Emails the member the outcome: the new card when accepted, a refusal otherwise. */
    async sendTransferEmail(step: StepContext, transferId: string, kind: 'transferred' | 'transfer-refused'): Promise<'sent' | 'already-sent' | 'no-address'> {
      const key = `${step.workflowId}:mail:${kind}`;
      const recipient = await member(step, key);
      if (!recipient.email) return 'no-address';
      if (recipient.sent) return 'already-sent';
      const places = await inTenant(deps, step, (tx) => transferPlaces(tx, transferId));
      if (!places) throw new Error(`transfer ${transferId} not found`);
      const to = { recipientName: recipient.name, partyName: recipient.partyName };
      let content: MailContent;
      if (kind === 'transferred') {
        const pdf = await deps.storage.get(idCardKey(recipient.tenantSlug, step.memberId));
        const memberNumber = places.memberNumber ?? '';
        content = templates.memberTransferred({ ...to, memberNumber, toWard: places.toWard,
          idCard: { filename: `member-card-${memberNumber}.pdf`, contentType: 'application/pdf', content: pdf } });
      } else {
        content = templates.memberTransferRefused({ ...to, toWard: places.toWard });
      }
      return deliverOnce(step, key, kind, recipient.email, content);
    },

    /** Emails the member their transfer link; the token is derived here, from the party's keys, and never leaves this activity but in the mail. */
    async sendTransferLinkEmail(step: StepContext, expiresAt: string): Promise<'sent' | 'already-sent' | 'no-address'> {
      const key = `${step.workflowId}:mail:transfer-link`;
      const recipient = await member(step, key);
      if (!recipient.email) return 'no-address';
      if (recipient.sent) return 'already-sent';
      const token = await inTenant(deps, step, async (tx) => transferLinkToken(await deps.keyring.forTenant(tx, step.tenantId), step.memberId, new Date(expiresAt)));
      const link = `${deps.publicBaseUrl ?? ''}/api/parties/${recipient.tenantSlug}/members/${step.memberId}/transfers?token=${token}`;
      const content = templates.transferLink({ recipientName: recipient.name, partyName: recipient.partyName, link, expiresAt: new Date(expiresAt) });
      return deliverOnce(step, key, 'transfer-link', recipient.email, content);
    },
  };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;
