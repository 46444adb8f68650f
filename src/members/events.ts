/** The member aggregate's events, past tense. Payloads carry ids and amounts, never personal data. */
export type MemberEvent =
  | { type: 'MemberRegistered'; payload: { wardId: string; committeeId: string | null; geographyPath: string } }
  | { type: 'ApprovalReminderSent'; payload: { committeeId: string | null } }
  | { type: 'ApprovalEscalated'; payload: { fromCommitteeId: string | null; toCommitteeId: string | null } }
  | { type: 'MemberApproved'; payload: { by: string; note: string | null } }
  | { type: 'MemberRejected'; payload: { by: string; reason: string } }
  | { type: 'InvoiceIssued'; payload: { invoiceId: string; amountMinor: number; currency: string; dueAt: string } }
  | { type: 'PaymentReceived'; payload: { invoiceId: string; paymentId: string; amountMinor: number; currency: string; provider: string; providerRef: string; paidAt: string } }
  | { type: 'InvoiceVoided'; payload: { invoiceId: string; reason: 'expired' | 'withdrawn' } }
  | { type: 'MemberLapsed'; payload: { invoiceId: string } }
  | { type: 'MemberWithdrawn'; payload: { reason: string } }
  | { type: 'MemberActivated'; payload: { memberNumber: string } }
  | { type: 'IdCardIssued'; payload: { cardId: string; tokenId: string; validUntil: string } }
  | { type: 'IdCardRevoked'; payload: { cardId: string; reason: string } }
  | { type: 'TermStarted'; payload: { termId: string; termNumber: number; from: string; to: string; paymentId: string | null; waived: boolean } }
  | { type: 'MemberImported'; payload: { importId: string; wardId: string; committeeId: string | null; geographyPath: string; memberNumber: string } }
  | { type: 'MemberImportRolledBack'; payload: { importId: string } };

export type MemberEventType = MemberEvent['type'];
