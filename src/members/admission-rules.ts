import type { ErrorCode } from '../errors/error-codes.ts';
import type { MemberStatus } from './member-status.ts';

/**
 * The rules of admission, kept once. The member aggregate (src/members/member-aggregate.ts)
 * checks them before it records an event; the lifecycle workflow checks the same ones before
 * it accepts a message (workflows/members/lifecycle-state.ts), so the two cannot disagree.
 * Pure and deterministic: no I/O, no clock, safe inside the workflow sandbox.
 */

/** Why a command or message is refused: a stable code and, for bad input, the field at fault. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  field?: string;
}

export interface InvoiceTerms {
  invoiceId: string;
  amountMinor: number;
  currency: string;
}

/** Where an admission stands, as the aggregate (from its events) or the workflow (from its messages) knows it. */
export interface AdmissionPosition {
  /** `new` before the member is registered. */
  status: MemberStatus | 'new';
  /** An approval or a rejection has been taken. */
  decided: boolean;
  approved: boolean;
  /** A withdrawal has been taken but not yet recorded (the workflow's view only). */
  withdrawing?: boolean;
  paid: boolean;
  invoice: InvoiceTerms | null;
  cardIssued?: boolean;
}

/** The fields of a payment, named as API clients send them. */
export type PaymentField = 'invoiceId' | 'currency' | 'amount';

export interface PaymentClaim {
  invoiceId: string;
  /** Minor units (paisa). */
  amount: number;
  currency: string;
}

const refuse = (code: ErrorCode, message: string, field?: PaymentField): Refusal => (field ? { code, message, field } : { code, message });

/** `label` names the position in messages: the workflow's stage, or the stored status. */
export function registrationRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  return position.status === 'new' ? null : refuse('MEMBER_ALREADY_REGISTERED', `the application is ${label}, already registered`);
}

/** Approving or rejecting: only once, only while awaiting approval, and not after a withdrawal. */
export function decisionRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  if (position.status === 'awaiting_approval' && !position.decided && !position.withdrawing) return null;
  const why = position.decided || position.withdrawing ? 'already decided or withdrawn' : `${label}, not awaiting approval`;
  return refuse('MEMBER_NOT_AWAITING_APPROVAL', `the application is ${why}`);
}

/** Reminding or escalating: while the application waits for approval. */
export function awaitingApprovalRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  return position.status === 'awaiting_approval' ? null : refuse('MEMBER_NOT_AWAITING_APPROVAL', `the application is ${label}, not awaiting approval`);
}

/** An invoice is issued once, after approval. */
export function invoiceRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  if (position.status === 'awaiting_approval' && position.approved && !position.withdrawing) return null;
  return refuse('MEMBER_NOT_APPROVED', `the application is ${label}, not approved and waiting for its invoice`);
}

/**
 * A payment must be for the open invoice, in its currency, for its amount; the first field
 * that differs is named.
 */
export function paymentRefusal(position: AdmissionPosition, claim: PaymentClaim, label: string = position.status): Refusal | null {
  const invoice = position.invoice;
  if (position.status !== 'awaiting_payment' || position.withdrawing || !invoice) {
    return refuse('MEMBER_NOT_AWAITING_PAYMENT', `the application is ${label}, not awaiting payment`);
  }
  if (position.paid) return refuse('INVOICE_ALREADY_PAID', 'the invoice is already paid');
  if (claim.invoiceId !== invoice.invoiceId) return refuse('INVOICE_MISMATCH', "invoiceId is not the member's open invoice", 'invoiceId');
  if (claim.currency !== invoice.currency) return refuse('PAYMENT_AMOUNT_MISMATCH', `currency must be the invoice's ${invoice.currency}`, 'currency');
  if (claim.amount !== invoice.amountMinor) {
    return refuse('PAYMENT_AMOUNT_MISMATCH', `amount must be the invoice's ${invoice.amountMinor} (minor units)`, 'amount');
  }
  return null;
}

/** An unpaid invoice expires; a paid one does not. */
export function expiryRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  if (position.status !== 'awaiting_payment') return refuse('MEMBER_NOT_AWAITING_PAYMENT', `the application is ${label}, not awaiting payment`);
  return position.paid ? refuse('INVOICE_ALREADY_PAID', 'the invoice is already paid') : null;
}

/** An application can be withdrawn while it waits for a decision, or for a payment. */
export function withdrawalRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  const open = (position.status === 'awaiting_approval' && !position.decided) || (position.status === 'awaiting_payment' && !position.paid);
  return open && !position.withdrawing ? null : refuse('MEMBER_CANNOT_WITHDRAW', `the application is ${label} and cannot be withdrawn`);
}

/** A member is activated once, after paying. */
export function activationRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  return position.status === 'awaiting_payment' && position.paid ? null : refuse('MEMBER_NOT_PAID', `the application is ${label}, not paid`);
}

/** An active member holds one card. */
export function cardRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  if (position.status !== 'active') return refuse('MEMBER_NOT_ACTIVE', `the member is ${label}, not active`);
  return position.cardIssued ? refuse('CARD_ALREADY_ISSUED', 'the member already holds a card') : null;
}

/** Only an active member moves to another ward. */
export function transferRefusal(position: AdmissionPosition, label: string = position.status): Refusal | null {
  return position.status === 'active' ? null : refuse('MEMBER_NOT_ACTIVE', `the member is ${label}, not active; only an active member may transfer`);
}
