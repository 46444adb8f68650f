import { currentHeads } from '../../src/committees/committee-roles.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { isDelivered, readMemberRecipient, recordDelivery } from '../../src/mail/mail-deliveries.ts';
import type { MailContent, MailMessage } from '../../src/mail/mailer.ts';
import * as templates from '../../src/mail/templates.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import { noticedRecently, recordNotice } from '../../src/members/registration-refusals.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { formatPartyDate } from '../../src/calendar/bikram-sambat.ts';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { inTenant, type MemberActivityDeps, type StepContext } from './deps.ts';
import type { ContactTaken } from './registration.ts';

/** The emails of a member's lifecycle; each names what it is about, never personal data. */
export type MemberEmail =
  | { kind: 'approved' }
  | { kind: 'rejected'; reason: string }
  | { kind: 'invoice'; invoiceId: string; amountMinor: number; dueAt: string }
  | { kind: 'lapsed'; invoiceId: string }
  | { kind: 'activated'; memberNumber: string }
  // Status changes after admission: sent by the status-change workflow, keyed by its id.
  | { kind: 'suspended'; until: string; reasonCode: string }
  | { kind: 'suspension-lifted'; memberNumber: string }
  | { kind: 'expelled'; reasonCode: string }
  | { kind: 'resigned' }
  // Renewal: sent by the renewal workflow, keyed by its id. Dates are the ledger's (YYYY-MM-DD), shown in the party's calendar.
  | { kind: 'renewal-invoice'; invoiceId: string; amountMinor: number; paidUntil: string; graceUntil: string }
  | { kind: 'term-lapsed'; paidUntil: string; reinstatableUntil: string }
  | { kind: 'renewed' | 'reinstated'; memberNumber: string; paidThrough: string; withCard: boolean };

export interface CommitteeEmail {
  committeeId: string | null;
  escalated: boolean;
  /** The application has just arrived (not a reminder): lifecycles since HEADS_TOLD_ON_ARRIVAL. */
  arrival?: boolean;
}

/** Where a head decides an application: the committee inbox page, opened at it. */
/** The committee inbox page of a party (api/web/pages.ts). */
export const inboxPath = (slug: string) => `/parties/${encodeURIComponent(slug)}/inbox`;

export function createNotificationActivities(deps: MemberActivityDeps) {
  /** Sends once per key: a delivered message is recorded, and a retried step skips it. */
  async function deliverOnce(step: StepContext, key: string, kind: string, to: string, content: MailContent): Promise<'sent' | 'already-sent'> {
    const sent = await inTenant(deps, step, (tx) => isDelivered(tx, key));
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
      throw toActivityFailure(err);
    }
    await inTenant(deps, step, (tx) => recordDelivery(tx, { tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: key, kind, messageId }));
  }

  /** A member to write to, their email decrypted, and whether the email under `key` already went out. */
  async function recipientOf(tx: TenantTransaction, step: StepContext, memberId: string, key: string) {
    const row = await readMemberRecipient(tx, memberId, key);
    if (!row) return null;
    const keys = await deps.keyring.forTenant(tx, step.tenantId);
    return { ...row, email: row.emailEnc ? decryptField(keys, memberId, 'email', row.emailEnc) : null };
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
      case 'suspended':
        return templates.membershipSuspended({ ...recipient, until: new Date(email.until), reasonCode: email.reasonCode });
      case 'suspension-lifted': {
        const pdf = await deps.storage.get(idCardKey(tenantSlug, step.memberId));
        const idCard = { filename: `member-card-${email.memberNumber}.pdf`, contentType: 'application/pdf', content: pdf };
        return templates.suspensionLifted({ ...recipient, memberNumber: email.memberNumber, idCard });
      }
      case 'expelled':
        return templates.membershipExpelled({ ...recipient, reasonCode: email.reasonCode });
      case 'resigned':
        return templates.membershipResigned(recipient);
      case 'renewal-invoice': {
        const date = await partyDates(step);
        return templates.renewalInvoiceIssued({ ...recipient, invoiceId: email.invoiceId, amountPaisa: email.amountMinor, termEnds: date(email.paidUntil), lapsesOn: date(email.graceUntil) });
      }
      case 'term-lapsed': {
        const date = await partyDates(step);
        return templates.membershipLapsed({ ...recipient, paidUntil: date(email.paidUntil), reinstatableUntil: date(email.reinstatableUntil) });
      }
      case 'renewed':
      case 'reinstated': {
        const date = await partyDates(step);
        const idCard = email.withCard
          ? { filename: `member-card-${email.memberNumber}.pdf`, contentType: 'application/pdf', content: await deps.storage.get(idCardKey(tenantSlug, step.memberId)) }
          : null;
        return templates.membershipRenewed({ ...recipient, memberNumber: email.memberNumber, paidThrough: date(email.paidThrough), reinstated: email.kind === 'reinstated', idCard });
      }
    }
  }

  /** Shows a ledger date in the party's calendar, in English and Nepali. */
  async function partyDates(step: StepContext): Promise<(date: string) => templates.PartyDate> {
    const tenant = await inTenant(deps, step, (tx) => findTenant(tx, step.tenantId));
    if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
    return (date) => ({ en: formatPartyDate(date, tenant.calendar), ne: formatPartyDate(date, tenant.calendar, 'ne') });
  }

  return {
    /** Emails the applicant, if they gave an address. @returns what happened, for the history. */
    async sendMemberEmail(step: StepContext, email: MemberEmail): Promise<'sent' | 'already-sent' | 'no-address'> {
      const key = `${step.workflowId}:mail:${email.kind}`;
      // One read: the recipient, the party, and whether this email already went out.
      const recipient = await inTenant(deps, step, (tx) => recipientOf(tx, step, step.memberId, key));
      if (!recipient) throw new Error(`member ${step.memberId} of tenant ${step.tenantId} not found`);
      if (!recipient.email) return 'no-address';
      if (recipient.sent) return 'already-sent';
      const content = await render(step, email, { recipientName: recipient.name, partyName: recipient.partyName }, recipient.tenantSlug);
      await send(step, key, email.kind, recipient.email, content);
      return 'sent';
    },

    /**
     * Tells whoever holds the phone or email a refused application named: by email when they
     * gave one, otherwise the refusal waits for an SMS; at most once a day, so applications
     * naming someone's contact cannot flood them. @returns the channel.
     */
    async notifyContactHolder(step: StepContext, taken: ContactTaken): Promise<'email' | 'sms' | 'none'> {
      const key = `${step.workflowId}:mail:contact-notice`;
      const holder = await inTenant(deps, step, async (tx) => {
        const row = await recipientOf(tx, step, taken.holderId, key);
        return !row || (!row.sent && await noticedRecently(tx, taken.holderId, step.memberId)) ? null : row;
      });
      // The holder is gone (an import rolled back), or was told of another application today: once a day is enough.
      const channel = !holder ? 'none' : holder.email ? 'email' : 'sms';
      if (holder?.email && !holder.sent) {
        const content = templates.contactAlreadyRegistered({ recipientName: holder.name, partyName: holder.partyName, contact: taken.contact });
        await send({ ...step, memberId: taken.holderId }, key, 'contact-notice', holder.email, content);
      }
      await inTenant(deps, step, (tx) => recordNotice(tx, step.memberId, channel));
      return channel;
    },

    /** Emails the heads of a committee about an application waiting for them. @returns how many were emailed. */
    async notifyCommitteeHeads(step: StepContext, notice: CommitteeEmail): Promise<number> {
      if (!notice.committeeId) return 0;
      const committeeId = notice.committeeId;
      const { heads, tenant } = await inTenant(deps, step, async (tx) => ({ heads: await currentHeads(tx, committeeId), tenant: await findTenant(tx, step.tenantId) }));
      if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
      const party = tenant.name;
      for (const head of heads) {
        const link = `${deps.publicBaseUrl ?? ''}${inboxPath(tenant.slug)}?application=${step.memberId}`;
        const content = notice.arrival
          ? templates.applicationArrived({ recipientName: head.name, partyName: party, applicationId: step.memberId, link })
          : templates.approvalPending({ recipientName: head.name, partyName: party, applicationId: step.memberId, escalated: notice.escalated, link });
        const kind = notice.arrival ? 'arrival' : notice.escalated ? 'escalated' : 'reminder';
        await deliverOnce(step, `${step.workflowId}:mail:${kind}:${head.email}`, notice.arrival ? 'application-arrived' : 'approval-pending', head.email, content);
      }
      return heads.length;
    },
  };
}
