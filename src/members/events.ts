import type { DisciplineReason, ResignationReason } from './status-change-rules.ts';

/** The member aggregate's events, past tense. Payloads carry ids and amounts, never personal data. */
export type MemberEvent =
  | { type: 'MemberRegistered'; payload: { wardId: string; committeeId: string | null; geographyPath: string } }
  | { type: 'ApprovalReminderSent'; payload: { committeeId: string | null } }
  | { type: 'ApprovalEscalated'; payload: { fromCommitteeId: string | null; toCommitteeId: string | null } }
  | { type: 'MemberApproved'; payload: { by: string; note: string | null } }
  | { type: 'MemberRejected'; payload: { by: string; reason: string } }
  | { type: 'InvoiceIssued'; payload: { invoiceId: string; amountMinor: number; currency: string; dueAt: string } }
  | { type: 'PaymentReceived'; payload: { invoiceId: string; paymentId: string; amountMinor: number; currency: string; provider: string; providerRef: string; paidAt: string } }
  | { type: 'InvoiceVoided'; payload: { invoiceId: string; reason: 'expired' | 'withdrawn' | 'reinstatement_window_closed' } }
  | { type: 'MemberLapsed'; payload: { invoiceId: string } }
  | { type: 'MemberWithdrawn'; payload: { reason: string } }
  | { type: 'MemberActivated'; payload: { memberNumber: string } }
  | { type: 'IdCardIssued'; payload: { cardId: string; tokenId: string; validUntil: string } }
  | { type: 'IdCardRevoked'; payload: { cardId: string; reason: string } }
  | { type: 'TermStarted'; payload: { termId: string; termNumber: number; from: string; to: string; paymentId: string | null; waived: boolean } }
  | { type: 'MemberImported'; payload: { importId: string; wardId: string; committeeId: string | null; geographyPath: string; memberNumber: string } }
  | { type: 'MemberImportRolledBack'; payload: { importId: string } }
  | { type: 'MemberTransferRequested'; payload: { transferId: string; fromWardId: string; toWardId: string } }
  | { type: 'MemberTransferred'; payload: { transferId: string; fromWardId: string; toWardId: string } }
  | { type: 'MemberTransferRefused'; payload: { transferId: string; reasonCode: string } }
  // Status changes after admission (src/members/status-change-rules.ts).
  | { type: 'MemberSuspended'; payload: { until: string; reasonCode: DisciplineReason } }
  | { type: 'MemberSuspensionLifted'; payload: { early: boolean } }
  | { type: 'MemberExpulsionProposed'; payload: { by: string; reasonCode: DisciplineReason; committeeId: string } }
  | { type: 'MemberExpelled'; payload: { proposedBy: string; confirmedBy: string; reasonCode: DisciplineReason } }
  | { type: 'MemberResigned'; payload: { via: 'link' | 'staff'; reasonCode: ResignationReason } }
  | { type: 'MemberDied'; payload: { recordedBy: string } }
  // Renewal (docs/membership.md "Renewal"): the renewal invoice, its payment, the lapse of an
  // unpaid term after the grace period, and the return of a lapsed member who paid in time.
  | { type: 'RenewalInvoiceIssued'; payload: { invoiceId: string; termNumber: number; amountMinor: number; currency: string; dueAt: string } }
  | { type: 'RenewalPaymentReceived'; payload: { invoiceId: string; paymentId: string; amountMinor: number; currency: string; provider: string; providerRef: string; paidAt: string } }
  | { type: 'MemberTermLapsed'; payload: { termNumber: number; paidUntil: string; graceUntil: string } }
  | { type: 'MemberReinstated'; payload: { termNumber: number; paymentId: string } };

export type MemberEventType = MemberEvent['type'];
