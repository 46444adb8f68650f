import { DomainError } from '../errors/domain-error.ts';
import * as rules from './admission-rules.ts';
import type { AdmissionPosition, Refusal } from './admission-rules.ts';
import type { MemberEvent } from './events.ts';
import type { MemberStatus } from './member-status.ts';
import * as standing from './status-change-rules.ts';
import type { DisciplineReason, ExpulsionProposal, ResignationReason } from './status-change-rules.ts';
import * as renewal from './renewal-rules.ts';
import type { RenewalInvoice } from './renewal-rules.ts';

/** The member as its events leave it; also the position the admission rules judge. */
export interface MemberState extends AdmissionPosition {
  status: MemberStatus | 'new';
  version: number;
  memberNumber: string | null;
  cardIssued: boolean;
  /** A proposed expulsion awaiting its confirmation. */
  expulsionProposal: ExpulsionProposal | null;
  /** When the suspension in force ends. */
  suspendedUntil: string | null;
  /** The open renewal invoice, from its issue to its payment or voiding. */
  renewalInvoice: RenewalInvoice | null;
}

export const initialMemberState: MemberState = {
  status: 'new', version: 0, decided: false, approved: false, paid: false, invoice: null, memberNumber: null, cardIssued: false,
  expulsionProposal: null, suspendedUntil: null, renewalInvoice: null,
};

export type MemberCommand =
  | { type: 'Register'; wardId: string; committeeId: string | null; geographyPath: string }
  | { type: 'RemindCommittee'; committeeId: string | null }
  | { type: 'Escalate'; fromCommitteeId: string | null; toCommitteeId: string | null }
  | { type: 'Approve'; by: string; note: string | null }
  | { type: 'Reject'; by: string; reason: string }
  | { type: 'IssueInvoice'; invoiceId: string; amountMinor: number; currency: string; dueAt: string }
  | { type: 'RecordPayment'; paymentId: string; invoiceId: string; amountMinor: number; currency: string; provider: string; providerRef: string; paidAt: string }
  | { type: 'Expire' }
  | { type: 'Withdraw'; reason: string }
  | { type: 'Activate'; memberNumber: string }
  | { type: 'IssueCard'; cardId: string; tokenId: string; validUntil: string }
  | { type: 'RevokeCard'; cardId: string; reason: string }
  | { type: 'RequestTransfer'; transferId: string; fromWardId: string; toWardId: string }
  | { type: 'Transfer'; transferId: string; fromWardId: string; toWardId: string }
  | { type: 'RefuseTransfer'; transferId: string; reasonCode: string }
  | { type: 'Suspend'; until: string; reasonCode: DisciplineReason }
  | { type: 'LiftSuspension'; early: boolean }
  | { type: 'ProposeExpulsion'; by: string; reasonCode: DisciplineReason; committeeId: string }
  | { type: 'ConfirmExpulsion'; by: string }
  | { type: 'Resign'; via: 'link' | 'staff'; reasonCode: ResignationReason }
  | { type: 'RecordDeath'; recordedBy: string }
  | { type: 'StartTerm'; termId: string; termNumber: number; from: string; to: string; paymentId: string | null; waived: boolean }
  | { type: 'IssueRenewalInvoice'; invoiceId: string; termNumber: number; amountMinor: number; currency: string; dueAt: string }
  | { type: 'RecordRenewalPayment'; paymentId: string; invoiceId: string; amountMinor: number; currency: string; provider: string; providerRef: string; paidAt: string }
  | { type: 'LapseTerm'; termNumber: number; paidUntil: string; graceUntil: string }
  | { type: 'Reinstate'; termNumber: number; paymentId: string }
  | { type: 'CloseRenewal' };

/** A command the member's current state does not allow; `code` is stable for API clients. */
export class MemberRuleError extends DomainError {
  override readonly name = 'MemberRuleError';
}

/** @throws MemberRuleError with the refusal's code and field. */
function check(refusal: Refusal | null): void {
  if (refusal) throw new MemberRuleError(refusal.code, refusal.message, { field: refusal.field });
}

/**
 * Decides which events a command produces in the given state.
 * @throws MemberRuleError when the state forbids the command.
 */
export function decide(command: MemberCommand, state: MemberState): MemberEvent[] {
  switch (command.type) {
    case 'Register':
      check(rules.registrationRefusal(state));
      return [{ type: 'MemberRegistered', payload: { wardId: command.wardId, committeeId: command.committeeId, geographyPath: command.geographyPath } }];
    case 'RemindCommittee':
      check(rules.awaitingApprovalRefusal(state));
      return [{ type: 'ApprovalReminderSent', payload: { committeeId: command.committeeId } }];
    case 'Escalate':
      check(rules.awaitingApprovalRefusal(state));
      return [{ type: 'ApprovalEscalated', payload: { fromCommitteeId: command.fromCommitteeId, toCommitteeId: command.toCommitteeId } }];
    case 'Approve':
      check(rules.decisionRefusal(state));
      return [{ type: 'MemberApproved', payload: { by: command.by, note: command.note } }];
    case 'Reject':
      check(rules.decisionRefusal(state));
      return [{ type: 'MemberRejected', payload: { by: command.by, reason: command.reason } }];
    case 'IssueInvoice':
      check(rules.invoiceRefusal(state));
      return [{ type: 'InvoiceIssued', payload: { invoiceId: command.invoiceId, amountMinor: command.amountMinor, currency: command.currency, dueAt: command.dueAt } }];
    case 'RecordPayment': {
      check(rules.paymentRefusal(state, { invoiceId: command.invoiceId, amount: command.amountMinor, currency: command.currency }));
      const { type: _type, ...payload } = command;
      return [{ type: 'PaymentReceived', payload }];
    }
    case 'Expire': {
      check(rules.expiryRefusal(state));
      const invoiceId = state.invoice?.invoiceId ?? '';
      return [{ type: 'InvoiceVoided', payload: { invoiceId, reason: 'expired' } }, { type: 'MemberLapsed', payload: { invoiceId } }];
    }
    case 'Withdraw':
      check(rules.withdrawalRefusal(state));
      return [
        ...(state.invoice ? [{ type: 'InvoiceVoided' as const, payload: { invoiceId: state.invoice.invoiceId, reason: 'withdrawn' as const } }] : []),
        { type: 'MemberWithdrawn', payload: { reason: command.reason } },
      ];
    case 'Activate':
      check(rules.activationRefusal(state));
      return [{ type: 'MemberActivated', payload: { memberNumber: command.memberNumber } }];
    case 'IssueCard':
      check(rules.cardRefusal(state));
      return [{ type: 'IdCardIssued', payload: { cardId: command.cardId, tokenId: command.tokenId, validUntil: command.validUntil } }];
    case 'RevokeCard':
      // Whether the card is current is the id_cards row's to say (src/cards/card-revocation.ts).
      return [{ type: 'IdCardRevoked', payload: { cardId: command.cardId, reason: command.reason } }];
    case 'RequestTransfer':
      check(rules.transferRefusal(state));
      return [{ type: 'MemberTransferRequested', payload: { transferId: command.transferId, fromWardId: command.fromWardId, toWardId: command.toWardId } }];
    case 'Transfer':
      check(rules.transferRefusal(state));
      return [{ type: 'MemberTransferred', payload: { transferId: command.transferId, fromWardId: command.fromWardId, toWardId: command.toWardId } }];
    case 'RefuseTransfer':
      return [{ type: 'MemberTransferRefused', payload: { transferId: command.transferId, reasonCode: command.reasonCode } }];
    case 'Suspend':
      check(standing.activeRefusal(state, 'be suspended'));
      return [{ type: 'MemberSuspended', payload: { until: command.until, reasonCode: command.reasonCode } }];
    case 'LiftSuspension':
      check(standing.liftRefusal(state));
      return [{ type: 'MemberSuspensionLifted', payload: { early: command.early } }];
    case 'ProposeExpulsion':
      check(standing.proposalRefusal(state));
      return [{ type: 'MemberExpulsionProposed', payload: { by: command.by, reasonCode: command.reasonCode, committeeId: command.committeeId } }];
    case 'ConfirmExpulsion': {
      check(standing.confirmationRefusal(state, command.by));
      const proposal = state.expulsionProposal!;
      return [{ type: 'MemberExpelled', payload: { proposedBy: proposal.by, confirmedBy: command.by, reasonCode: proposal.reasonCode } }];
    }
    case 'Resign':
      check(standing.activeRefusal(state, 'resign'));
      return [{ type: 'MemberResigned', payload: { via: command.via, reasonCode: command.reasonCode } }];
    case 'RecordDeath':
      check(standing.deathRefusal(state));
      return [{ type: 'MemberDied', payload: { recordedBy: command.recordedBy } }];
    case 'IssueRenewalInvoice': {
      check(renewal.renewalInvoiceRefusal(state));
      const { type: _type, ...payload } = command;
      return [{ type: 'RenewalInvoiceIssued', payload }];
    }
    case 'RecordRenewalPayment': {
      check(renewal.renewalPaymentRefusal(state, { invoiceId: command.invoiceId, amount: command.amountMinor, currency: command.currency }));
      const { type: _type, ...payload } = command;
      return [{ type: 'RenewalPaymentReceived', payload }];
    }
    case 'LapseTerm': {
      check(renewal.lapseRefusal(state));
      const { type: _type, ...payload } = command;
      return [{ type: 'MemberTermLapsed', payload }];
    }
    case 'Reinstate':
      check(renewal.reinstatementRefusal(state));
      return [{ type: 'MemberReinstated', payload: { termNumber: command.termNumber, paymentId: command.paymentId } }];
    case 'CloseRenewal':
      check(renewal.closingRefusal(state));
      return [{ type: 'InvoiceVoided', payload: { invoiceId: state.renewalInvoice!.invoiceId, reason: 'reinstatement_window_closed' } }];
    case 'StartTerm': {
      // A renewal paid by a suspended member, or by a lapsed one in the transaction that reinstates them, also starts a term.
      if (state.status !== 'active' && state.status !== 'suspended' && state.status !== 'lapsed') throw new MemberRuleError('MEMBER_NOT_ACTIVE', `a term starts only for an admitted member who has not left, not one ${state.status}`);
      const { type: _type, ...payload } = command;
      return [{ type: 'TermStarted', payload }];
    }
    default:
      return assertNever(command);
  }
}

/** Applies one event to the state. */
export function evolve(state: MemberState, event: MemberEvent): MemberState {
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'MemberRegistered':
      return { ...next, status: 'awaiting_approval' };
    case 'ApprovalReminderSent':
    case 'ApprovalEscalated':
      return next;
    case 'MemberApproved':
      return { ...next, decided: true, approved: true };
    case 'MemberRejected':
      return { ...next, status: 'rejected', decided: true };
    case 'InvoiceIssued': {
      const { invoiceId, amountMinor, currency } = event.payload;
      return { ...next, status: 'awaiting_payment', invoice: { invoiceId, amountMinor, currency } };
    }
    case 'PaymentReceived':
      return { ...next, paid: true };
    case 'InvoiceVoided':
      return event.payload.invoiceId === state.renewalInvoice?.invoiceId ? { ...next, renewalInvoice: null } : next;
    case 'MemberLapsed':
      return { ...next, status: 'expired' };
    case 'MemberWithdrawn':
      return { ...next, status: 'withdrawn' };
    case 'MemberActivated':
      return { ...next, status: 'active', memberNumber: event.payload.memberNumber };
    case 'IdCardIssued':
      return { ...next, cardIssued: true };
    case 'IdCardRevoked':
      // A revoked card is no longer held: a member active again (a suspension lifted) gets a new one.
      return { ...next, cardIssued: false };
    case 'TermStarted':
      // The term ledger (member_terms) holds the terms; standing is derived from it when read.
      return next;
    case 'MemberImported':
      return { ...next, status: 'active', memberNumber: event.payload.memberNumber };
    case 'MemberTransferRequested':
    case 'MemberTransferRefused':
      return next;
    case 'MemberTransferred':
      // The ward changes (the members row); the card naming the old ward is revoked with it, so a new one is due.
      return { ...next, cardIssued: false };
    case 'MemberSuspended':
      return { ...next, status: 'suspended', suspendedUntil: event.payload.until };
    case 'MemberSuspensionLifted':
      return { ...next, status: 'active', suspendedUntil: null };
    case 'MemberExpulsionProposed': {
      const { by, reasonCode, committeeId } = event.payload;
      return { ...next, expulsionProposal: { by, reasonCode, committeeId } };
    }
    case 'MemberExpelled':
      return { ...next, status: 'expelled', expulsionProposal: null };
    case 'MemberResigned':
      return { ...next, status: 'resigned', expulsionProposal: null };
    case 'MemberDied':
      return { ...next, status: 'deceased', expulsionProposal: null, suspendedUntil: null };
    case 'RenewalInvoiceIssued': {
      const { invoiceId, termNumber, amountMinor, currency } = event.payload;
      return { ...next, renewalInvoice: { invoiceId, termNumber, amountMinor, currency } };
    }
    case 'RenewalPaymentReceived':
      return { ...next, renewalInvoice: null };
    case 'MemberTermLapsed':
      // The renewal invoice stays open: paying it within the reinstatement window reinstates the member.
      return { ...next, status: 'lapsed', suspendedUntil: null };
    case 'MemberReinstated':
      return { ...next, status: 'active' };
    case 'MemberImportRolledBack':
      // The import is undone and the member row deleted: the stream is as if never begun.
      return { ...initialMemberState, version: next.version };
    default:
      return assertNever(event);
  }
}

/** The state after all of a stream's events. */
export function replay(events: readonly MemberEvent[]): MemberState {
  return events.reduce(evolve, initialMemberState);
}

function assertNever(value: never): never {
  throw new Error(`unhandled: ${JSON.stringify(value)}`);
}
