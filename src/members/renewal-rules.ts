import type { Refusal } from './admission-rules.ts';
import type { MemberStatus } from './member-status.ts';

/**
 * The rules of renewal, lapse and reinstatement (docs/membership.md, "Renewal"), kept once:
 * the member aggregate checks them before it records an event, the API before it starts a
 * renewal. Pure: no I/O, no clock.
 */

/** The member's open renewal invoice, as its RenewalInvoiceIssued event set it. */
export interface RenewalInvoice {
  invoiceId: string;
  termNumber: number;
  amountMinor: number;
  currency: string;
}

export interface RenewalPosition {
  status: MemberStatus | 'new';
  renewalInvoice: RenewalInvoice | null;
}

const refuse = (code: Refusal['code'], message: string, field?: string): Refusal => (field ? { code, message, field } : { code, message });

/** Statuses whose dues run: an admitted member who has not left. A suspended member owes dues too. */
const OWING: readonly (MemberStatus | 'new')[] = ['active', 'suspended', 'lapsed'];

/** A renewal invoice goes to an active or suspended member without one open. */
export function renewalInvoiceRefusal(position: RenewalPosition): Refusal | null {
  if (position.status !== 'active' && position.status !== 'suspended') {
    return refuse('MEMBER_NOT_ACTIVE', `a renewal invoice goes to an active or suspended member; the member is ${position.status}`);
  }
  return position.renewalInvoice ? refuse('RENEWAL_IN_PROGRESS', `the member's renewal of term ${position.renewalInvoice.termNumber} is already open`) : null;
}

export interface RenewalClaim {
  invoiceId: string;
  amount: number;
  currency: string;
}

/** A renewal payment must be for the open renewal invoice, in its currency, for its amount; the first field that differs is named. */
export function renewalPaymentRefusal(position: RenewalPosition, claim: RenewalClaim): Refusal | null {
  const invoice = position.renewalInvoice;
  if (!OWING.includes(position.status)) return refuse('MEMBER_NOT_ACTIVE', `the member is ${position.status}; their renewal is closed`);
  if (!invoice) return refuse('RENEWAL_NOT_OPEN', 'the member has no open renewal invoice');
  if (claim.invoiceId !== invoice.invoiceId) return refuse('INVOICE_MISMATCH', "invoiceId is not the member's open renewal invoice", 'invoiceId');
  if (claim.currency !== invoice.currency) return refuse('PAYMENT_AMOUNT_MISMATCH', `currency must be the invoice's ${invoice.currency}`, 'currency');
  if (claim.amount !== invoice.amountMinor) return refuse('PAYMENT_AMOUNT_MISMATCH', `amount must be the invoice's ${invoice.amountMinor} (minor units)`, 'amount');
  return null;
}

/** An unpaid term lapses an active or suspended member, once the grace period is over. */
export function lapseRefusal(position: RenewalPosition): Refusal | null {
  if (position.status !== 'active' && position.status !== 'suspended') return refuse('MEMBER_NOT_ACTIVE', `only an active or suspended member lapses; the member is ${position.status}`);
  return position.renewalInvoice ? null : refuse('RENEWAL_NOT_OPEN', 'the member has no open renewal invoice');
}

/** Reinstatement: a lapsed member whose renewal was paid. */
export function reinstatementRefusal(position: RenewalPosition): Refusal | null {
  return position.status === 'lapsed' ? null : refuse('MEMBER_NOT_LAPSED', `only a lapsed member is reinstated; the member is ${position.status}`);
}

/** The reinstatement window closing voids the open renewal invoice. */
export function closingRefusal(position: RenewalPosition): Refusal | null {
  return position.renewalInvoice ? null : refuse('RENEWAL_NOT_OPEN', 'the member has no open renewal invoice');
}
