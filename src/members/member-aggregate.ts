import type { MemberEvent } from './events.ts';

export type MemberStatus = 'awaiting_approval' | 'rejected' | 'awaiting_payment' | 'expired' | 'withdrawn' | 'active' | 'lapsed';

export interface MemberState {
  status: MemberStatus | 'new';
  version: number;
  invoiceId: string | null;
  invoiceAmountMinor: number | null;
  invoiceCurrency: string | null;
  paid: boolean;
  memberNumber: string | null;
  cardIssued: boolean;
}

export const initialMemberState: MemberState = {
  status: 'new', version: 0, invoiceId: null, invoiceAmountMinor: null, invoiceCurrency: null, paid: false, memberNumber: null, cardIssued: false,
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
  | { type: 'IssueCard'; cardId: string; tokenId: string; validUntil: string };

/** A command the member's current state does not allow; `code` is stable for API clients. */
export class MemberRuleError extends Error {
  override readonly name = 'MemberRuleError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function requireStatus(state: MemberState, allowed: readonly MemberState['status'][], code: string): void {
  if (!allowed.includes(state.status)) throw new MemberRuleError(code, `member is ${state.status}, not ${allowed.join(' or ')}`);
}

/**
 * Decides which events a command produces in the given state.
 * @throws MemberRuleError when the state forbids the command.
 */
export function decide(command: MemberCommand, state: MemberState): MemberEvent[] {
  switch (command.type) {
    case 'Register':
      requireStatus(state, ['new'], 'MEMBER_ALREADY_REGISTERED');
      return [{ type: 'MemberRegistered', payload: { wardId: command.wardId, committeeId: command.committeeId, geographyPath: command.geographyPath } }];
    case 'RemindCommittee':
      requireStatus(state, ['awaiting_approval'], 'MEMBER_NOT_AWAITING_APPROVAL');
      return [{ type: 'ApprovalReminderSent', payload: { committeeId: command.committeeId } }];
    case 'Escalate':
      requireStatus(state, ['awaiting_approval'], 'MEMBER_NOT_AWAITING_APPROVAL');
      return [{ type: 'ApprovalEscalated', payload: { fromCommitteeId: command.fromCommitteeId, toCommitteeId: command.toCommitteeId } }];
    case 'Approve':
      requireStatus(state, ['awaiting_approval'], 'MEMBER_NOT_AWAITING_APPROVAL');
      return [{ type: 'MemberApproved', payload: { by: command.by, note: command.note } }];
    case 'Reject':
      requireStatus(state, ['awaiting_approval'], 'MEMBER_NOT_AWAITING_APPROVAL');
      return [{ type: 'MemberRejected', payload: { by: command.by, reason: command.reason } }];
    case 'IssueInvoice':
      requireStatus(state, ['awaiting_approval'], 'MEMBER_NOT_APPROVED');
      return [{ type: 'InvoiceIssued', payload: { invoiceId: command.invoiceId, amountMinor: command.amountMinor, currency: command.currency, dueAt: command.dueAt } }];
    case 'RecordPayment':
      return decidePayment(command, state);
    case 'Expire':
      requireStatus(state, ['awaiting_payment'], 'MEMBER_NOT_AWAITING_PAYMENT');
      if (state.paid) throw new MemberRuleError('INVOICE_ALREADY_PAID', 'the invoice is already paid');
      return [
        { type: 'InvoiceVoided', payload: { invoiceId: state.invoiceId ?? '', reason: 'expired' } },
        { type: 'MemberLapsed', payload: { invoiceId: state.invoiceId ?? '' } },
      ];
    case 'Withdraw':
      requireStatus(state, ['awaiting_approval', 'awaiting_payment'], 'MEMBER_CANNOT_WITHDRAW');
      if (state.paid) throw new MemberRuleError('MEMBER_CANNOT_WITHDRAW', 'the invoice is already paid');
      return [
        ...(state.invoiceId ? [{ type: 'InvoiceVoided' as const, payload: { invoiceId: state.invoiceId, reason: 'withdrawn' as const } }] : []),
        { type: 'MemberWithdrawn', payload: { reason: command.reason } },
      ];
    case 'Activate':
      requireStatus(state, ['awaiting_payment'], 'MEMBER_NOT_PAID');
      if (!state.paid) throw new MemberRuleError('MEMBER_NOT_PAID', 'the invoice is not paid');
      return [{ type: 'MemberActivated', payload: { memberNumber: command.memberNumber } }];
    case 'IssueCard':
      requireStatus(state, ['active'], 'MEMBER_NOT_ACTIVE');
      if (state.cardIssued) throw new MemberRuleError('CARD_ALREADY_ISSUED', 'the member already holds a card');
      return [{ type: 'IdCardIssued', payload: { cardId: command.cardId, tokenId: command.tokenId, validUntil: command.validUntil } }];
    default:
      return assertNever(command);
  }
}

function decidePayment(command: Extract<MemberCommand, { type: 'RecordPayment' }>, state: MemberState): MemberEvent[] {
  requireStatus(state, ['awaiting_payment'], 'MEMBER_NOT_AWAITING_PAYMENT');
  if (state.paid) throw new MemberRuleError('INVOICE_ALREADY_PAID', 'the invoice is already paid');
  if (state.invoiceId !== command.invoiceId) throw new MemberRuleError('INVOICE_MISMATCH', `payment is for invoice ${command.invoiceId}, not ${String(state.invoiceId)}`);
  if (state.invoiceAmountMinor !== command.amountMinor || state.invoiceCurrency !== command.currency) {
    throw new MemberRuleError('PAYMENT_AMOUNT_MISMATCH', `payment of ${command.amountMinor} ${command.currency} does not match the invoice`);
  }
  const { type: _type, ...payload } = command;
  return [{ type: 'PaymentReceived', payload }];
}

/** Applies one event to the state. */
export function evolve(state: MemberState, event: MemberEvent): MemberState {
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'MemberRegistered':
      return { ...next, status: 'awaiting_approval' };
    case 'ApprovalReminderSent':
    case 'ApprovalEscalated':
    case 'MemberApproved':
      return next;
    case 'MemberRejected':
      return { ...next, status: 'rejected' };
    case 'InvoiceIssued':
      return { ...next, status: 'awaiting_payment', invoiceId: event.payload.invoiceId, invoiceAmountMinor: event.payload.amountMinor, invoiceCurrency: event.payload.currency };
    case 'PaymentReceived':
      return { ...next, paid: true };
    case 'InvoiceVoided':
      return next;
    case 'MemberLapsed':
      return { ...next, status: 'expired' };
    case 'MemberWithdrawn':
      return { ...next, status: 'withdrawn' };
    case 'MemberActivated':
      return { ...next, status: 'active', memberNumber: event.payload.memberNumber };
    case 'IdCardIssued':
      return { ...next, cardIssued: true };
    case 'MemberImported':
      return { ...next, status: 'active', memberNumber: event.payload.memberNumber };
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
