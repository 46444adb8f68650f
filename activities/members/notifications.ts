import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'slonik';
import { z } from 'zod';
import { MailDeliveryError, type MailMessage } from '../../src/mail/mailer.ts';
import * as templates from '../../src/mail/templates.ts';
import type { MailContent } from '../../src/mail/mailer.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { inTenant, type MemberActivityDeps, type StepContext } from './deps.ts';

/** The emails of a member's lifecycle; each names what it is about, never personal data. */
export type MemberEmail =
  | { kind: 'approved' }
  | { kind: 'rejected'; reason: string }
  | { kind: 'invoice'; invoiceId: string; amountMinor: number; dueAt: string }
  | { kind: 'lapsed'; invoiceId: string }
  | { kind: 'activated'; memberNumber: string };

export interface CommitteeEmail {
  committeeId: string | null;
  escalated: boolean;
}

const MemberRecipient = z.object({
  name: z.string(),
  email: z.instanceof(Buffer).nullable(),
  partyName: z.string(),
  tenantSlug: z.string(),
  sent: z.boolean(),
});

export function createNotificationActivities(deps: MemberActivityDeps) {
  /** Sends once per key: a delivered message is recorded, and a retried step skips it. */
  async function deliverOnce(step: StepContext, key: string, kind: string, to: string, content: MailContent): Promise<'sent' | 'already-sent'> {
    const sent = await inTenant(deps, step, (tx) => tx.exists(sql.unsafe`SELECT 1 FROM mail_deliveries WHERE idempotency_key = ${key}`));
    if (sent) return 'already-sent';
    await send(step, key, kind, to, content);
    return 'sent';
  }

  /** Sends and records the delivery; the caller has seen that the key is not yet recorded. */
  async function send(step: StepContext, key: string, kind: string, to: string, content: MailContent): Promise<void> {
    const message: MailMessage = { ...content, to, idempotencyKey: key };
    let messageId: string;
    try {
      ({ messageId } = await deps.mailer.send(message));
    } catch (err) {
      if (err instanceof MailDeliveryError && !err.retryable) {
        throw ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true });
      }
      throw err;
    }
    await inTenant(deps, step, (tx) => tx.query(sql.unsafe`
      INSERT INTO mail_deliveries (tenant_id, member_id, idempotency_key, kind, message_id)
      VALUES (${step.tenantId}, ${step.memberId}, ${key}, ${kind}, ${messageId})
      ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`));
  }

  async function partyName(step: StepContext): Promise<string> {
    const tenant = await inTenant(deps, step, (tx) => findTenant(tx, step.tenantId));
    if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
    return tenant.name;
  }

  async function render(step: StepContext, email: MemberEmail, recipient: templates.Recipient, tenantSlug: string): Promise<MailContent> {
    switch (email.kind) {
      case 'approved':
        return templates.applicationApproved(recipient);
      case 'rejected':
        return templates.applicationRejected({ ...recipient, reason: email.reason });
      case 'invoice':
        return templates.invoiceIssued({ ...recipient, invoiceId: email.invoiceId, amountPaisa: email.amountMinor, dueDate: new Date(email.dueAt) });
      case 'lapsed':
        return templates.applicationLapsed({ ...recipient, invoiceId: email.invoiceId });
      case 'activated': {
        const pdf = await deps.storage.get(idCardKey(tenantSlug, step.memberId));
        const idCard = { filename: `member-card-${email.memberNumber}.pdf`, contentType: 'application/pdf', content: pdf };
        return templates.membershipActivated({ ...recipient, memberNumber: email.memberNumber, idCard });
      }
    }
  }

  return {
    /** Emails the applicant, if they gave an address. @returns what happened, for the history. */
    async sendMemberEmail(step: StepContext, email: MemberEmail): Promise<'sent' | 'already-sent' | 'no-address'> {
      const key = `${step.workflowId}:mail:${email.kind}`;
      // One read: the recipient, the party, and whether this email already went out.
      const recipient = await inTenant(deps, step, async (tx) => {
        const keys = await deps.keyring.forTenant(tx, step.tenantId);
        const row = await tx.maybeOne(sql.type(MemberRecipient)`
          SELECT m.full_name_en AS name, m.email_enc AS email, t.name AS "partyName", t.slug AS "tenantSlug",
                 EXISTS (SELECT 1 FROM mail_deliveries WHERE idempotency_key = ${key}) AS sent
          FROM members m JOIN tenants t ON t.id = m.tenant_id WHERE m.id = ${step.memberId}`);
        return row && { ...row, email: row.email ? decryptField(keys, step.memberId, 'email', row.email) : null };
      });
      if (!recipient) throw new Error(`member ${step.memberId} of tenant ${step.tenantId} not found`);
      if (!recipient.email) return 'no-address';
      if (recipient.sent) return 'already-sent';
      const content = await render(step, email, { recipientName: recipient.name, partyName: recipient.partyName }, recipient.tenantSlug);
      await send(step, key, email.kind, recipient.email, content);
      return 'sent';
    },

    /** Emails the heads of a committee about an application waiting for them. @returns how many were emailed. */
    async notifyCommitteeHeads(step: StepContext, notice: CommitteeEmail): Promise<number> {
      if (!notice.committeeId) return 0;
      const heads = await inTenant(deps, step, (tx) => tx.any(sql.type(z.object({ email: z.string(), name: z.string() }))`
        SELECT u.email, u.display_name AS name FROM committee_roles r JOIN users u ON u.id = r.user_id
        WHERE r.committee_id = ${notice.committeeId} AND r.role = 'head' AND r.valid_from <= now()
          AND (r.valid_to IS NULL OR r.valid_to > now()) AND u.is_active`));
      const party = await partyName(step);
      for (const head of heads) {
        const content = templates.approvalPending({ recipientName: head.name, partyName: party, applicationId: step.memberId, escalated: notice.escalated });
        await deliverOnce(step, `${step.workflowId}:mail:${notice.escalated ? 'escalated' : 'reminder'}:${head.email}`, 'approval-pending', head.email, content);
      }
      return heads.length;
    },
  };
}
