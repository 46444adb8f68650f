import type { MailAttachment, MailContent } from './mailer.ts';

export interface Recipient {
  recipientName: string;
  partyName: string;
}

/** A paragraph of plain text; Nepali ones are marked so the HTML carries `lang="ne"`. */
type Paragraph = string | { ne: string };

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

function toHtml(paragraph: Paragraph): string {
  const [text, lang] = typeof paragraph === 'string' ? [paragraph, ''] : [paragraph.ne, ' lang="ne"'];
  return `<p${lang}>${escapeHtml(text).replaceAll('\n', '<br>\n')}</p>`;
}

/** Every paragraph is text, so the whole of it is escaped, interpolated values included. */
function render(subject: string, recipient: Recipient, body: Paragraph[], attachments?: readonly MailAttachment[]): MailContent {
  const paragraphs: Paragraph[] = [`Dear ${recipient.recipientName},`, ...body, `${recipient.partyName} membership office`];
  const text = `${paragraphs.map((p) => (typeof p === 'string' ? p : p.ne)).join('\n\n')}\n`;
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body>',
    ...paragraphs.map(toHtml),
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return attachments ? { subject, text, html, attachments } : { subject, text, html };
}

const rupeeGrouping = new Intl.NumberFormat('en-IN', { maximumFractionDigits: 0 });

/**
 * Formats paisa (1/100 rupee) as `NPR 1,23,456.78`, with the lakh grouping used in Nepal.
 * @throws RangeError when the amount is negative or not a whole number of paisa.
 */
export function formatNpr(paisa: bigint | number): string {
  if (typeof paisa === 'number' && !Number.isSafeInteger(paisa)) {
    throw new RangeError(`Amount must be a whole number of paisa: ${paisa}`);
  }
  const amount = BigInt(paisa);
  if (amount < 0n) throw new RangeError(`Amount must not be negative: ${amount}`);
  return `NPR ${rupeeGrouping.format(amount / 100n)}.${(amount % 100n).toString().padStart(2, '0')}`;
}

const kathmanduDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Asia/Kathmandu' });

/**
 * The calendar date in Nepal, e.g. `16 March 2026`.
 * @throws RangeError for an invalid Date.
 */
export function formatNepalDate(date: Date): string {
  return kathmanduDate.format(date);
}

export function applicationApproved(recipient: Recipient): MailContent {
  return render(`Your membership application to ${recipient.partyName} has been approved`, recipient, [
    `Your application for membership of ${recipient.partyName} has been approved. An invoice for the membership fee will follow shortly.`,
    { ne: `तपाईंको सदस्यता आवेदन स्वीकृत भएको छ।` },
  ]);
}

export function applicationRejected(input: Recipient & { reason: string }): MailContent {
  return render(`Your membership application to ${input.partyName} was not approved`, input, [
    `We are sorry to tell you that your application for membership of ${input.partyName} has not been approved.`,
    `Reason: ${input.reason}`,
    { ne: `तपाईंको सदस्यता आवेदन स्वीकृत हुन सकेन। कारण: ${input.reason}` },
  ]);
}

export interface InvoiceIssuedInput extends Recipient {
  invoiceId: string;
  amountPaisa: bigint | number;
  dueDate: Date;
}

/** @throws RangeError for a negative or fractional amount or an invalid due date. */
export function invoiceIssued(input: InvoiceIssuedInput): MailContent {
  const amount = formatNpr(input.amountPaisa);
  const due = formatNepalDate(input.dueDate);
  return render(`Membership fee invoice ${input.invoiceId}: ${amount} due by ${due}`, input, [
    `An invoice for your membership fee to ${input.partyName} has been issued.`,
    `Invoice: ${input.invoiceId}\nAmount: ${amount}\nDue by: ${due}`,
    `If it is not paid by the due date, your application will lapse.`,
    { ne: `कृपया सदस्यता शुल्क ${amount} मिति ${due} भित्र भुक्तानी गर्नुहोला।` },
  ]);
}

export function applicationLapsed(input: Recipient & { invoiceId: string }): MailContent {
  return render(`Your membership application to ${input.partyName} has lapsed`, input, [
    `Invoice ${input.invoiceId} was not paid by its due date, so your application for membership of ${input.partyName} has lapsed.`,
    `You are welcome to apply again at any time.`,
    { ne: `तोकिएको मितिभित्र शुल्क भुक्तानी नभएकाले तपाईंको सदस्यता आवेदन रद्द भएको छ।` },
  ]);
}

export interface MembershipActivatedInput extends Recipient {
  memberNumber: string;
  idCard: MailAttachment;
}

export function membershipActivated(input: MembershipActivatedInput): MailContent {
  return render(
    `Welcome to ${input.partyName}: your membership is active`,
    input,
    [
      `Welcome! Your membership of ${input.partyName} is now active.`,
      `Member number: ${input.memberNumber}`,
      `Your member ID card is attached (${input.idCard.filename}).`,
      { ne: `बधाई छ! तपाईंको सदस्यता सक्रिय भएको छ। सदस्यता नम्बर: ${input.memberNumber}` },
    ],
    [input.idCard],
  );
}

export interface ApprovalPendingInput extends Recipient {
  applicationId: string;
  escalated: boolean;
  /** Where the head decides it (the committee inbox, opened at the application). */
  link?: string;
}

/** To a committee head: an application in their area still awaits a decision. */
export function approvalPending(input: ApprovalPendingInput): MailContent {
  const lead = input.escalated
    ? `An application in a committee below yours has waited too long and is now escalated to your committee.`
    : `An application in your committee's area is still waiting for a decision.`;
  return render(`Membership application ${input.applicationId} awaits a decision`, input, [
    lead,
    `Application: ${input.applicationId}`,
    input.link ? `Approve or reject it here: ${input.link}` : `Please approve or reject it in the membership system.`,
    { ne: `एउटा सदस्यता आवेदन तपाईंको निर्णयको प्रतीक्षामा छ।` },
  ]);
}

export interface ApplicationArrivedInput extends Recipient {
  applicationId: string;
  link: string;
}

/** To a committee head: a new application has arrived in their area. Names no applicant: the link shows them to the head, signed in. */
export function applicationArrived(input: ApplicationArrivedInput): MailContent {
  return render(`New membership application ${input.applicationId} in your area`, input, [
    `A new membership application has arrived in your committee's area and awaits your decision.`,
    `Application: ${input.applicationId}`,
    `Read it and approve or reject it here (sign in first): ${input.link}`,
    { ne: `तपाईंको समितिको क्षेत्रमा नयाँ सदस्यता आवेदन आएको छ र तपाईंको निर्णयको प्रतीक्षामा छ: ${input.link}` },
  ]);
}

/**
 * To whoever holds a phone or email an application named: someone applied with it, and the
 * application did not go ahead. Says nothing of who applied, or with what.
 */
export function contactAlreadyRegistered(input: Recipient & { contact: 'phone' | 'email' }): MailContent {
  const what = input.contact === 'phone' ? 'phone number' : 'email address';
  return render(`An application to ${input.partyName} used your ${what}`, input, [
    `Someone applied for membership of ${input.partyName} giving your ${what}, which is already registered with the party, so that application did not go ahead.`,
    `If it was you, there is nothing to do: your existing registration stands. If it was not, you may ignore this message or tell the party's membership office.`,
    { ne: `कसैले तपाईंको सम्पर्क विवरण प्रयोग गरी सदस्यता आवेदन दिएको थियो; त्यो आवेदन अघि बढेन।` },
  ]);
}

export interface TransferNoticeInput extends Recipient {
  memberNumber: string;
  fromWard: string;
  toWard: string;
  decidesAt: Date;
}

/** To a head of the committee the member leaves: a member asked to move out of its area. */
export function transferRequestedOrigin(input: TransferNoticeInput): MailContent {
  return render(`Member ${input.memberNumber} asked to transfer to ${input.toWard}`, input, [
    `Member ${input.memberNumber} of your committee's area has asked to transfer from ${input.fromWard} to ${input.toWard}.`,
    `A head of a committee covering ${input.toWard} decides; if nobody refuses it by ${formatNepalDate(input.decidesAt)}, the transfer is accepted.`,
    { ne: `सदस्य ${input.memberNumber} ले ${input.toWard} मा सरुवाको अनुरोध गर्नुभएको छ।` },
  ]);
}

/** To a head of a committee covering the destination: a transfer awaits their decision. */
export function transferAwaitsDecision(input: TransferNoticeInput & { transferId: string }): MailContent {
  return render(`Transfer ${input.transferId} to ${input.toWard} awaits a decision`, input, [
    `Member ${input.memberNumber} has asked to transfer from ${input.fromWard} to ${input.toWard}, in your committee's area.`,
    `Transfer: ${input.transferId}`,
    `Please approve or refuse it in the membership system. If nobody refuses it by ${formatNepalDate(input.decidesAt)}, it is accepted.`,
    { ne: `एउटा सदस्य सरुवा अनुरोध तपाईंको निर्णयको प्रतीक्षामा छ।` },
  ]);
}

export function memberTransferred(input: Recipient & { memberNumber: string; toWard: string; idCard: MailAttachment }): MailContent {
  return render(`Your membership of ${input.partyName} is now in ${input.toWard}`, input, [
    `Your transfer is accepted: your membership of ${input.partyName} now belongs to ${input.toWard}.`,
    `Member number: ${input.memberNumber} (unchanged)`,
    `Your new member ID card, naming the new ward, is attached (${input.idCard.filename}). The previous card no longer verifies.`,
    { ne: `तपाईंको सरुवा स्वीकृत भयो। नयाँ वडा: ${input.toWard}। सदस्यता नम्बर: ${input.memberNumber}` },
  ], [input.idCard]);
}

export function memberTransferRefused(input: Recipient & { toWard: string }): MailContent {
  return render(`Your transfer to ${input.toWard} was not approved`, input, [
    `Your request to transfer your membership of ${input.partyName} to ${input.toWard} was not approved. Your membership stays where it was.`,
    { ne: `तपाईंको सरुवा अनुरोध स्वीकृत हुन सकेन।` },
  ]);
}

export function transferLink(input: Recipient & { link: string; expiresAt: Date }): MailContent {
  return render(`Your link to transfer your ${input.partyName} membership`, input, [
    `You asked to move your membership of ${input.partyName} to another ward. Use this private link, until ${formatNepalDate(input.expiresAt)}:`,
    input.link,
    `If you did not ask for it, ignore this message: nothing changes unless the link is used.`,
    { ne: `सरुवा अनुरोधका लागि यो निजी लिङ्क प्रयोग गर्नुहोस्।` },
  ]);
}

const REASON_WORDS: Record<string, string> = {
  misconduct: 'misconduct', indiscipline: 'indiscipline', anti_party_activity: 'activity against the party',
  criminal_conviction: 'a criminal conviction', other: 'a reason the committee recorded',
};
const reasonWords = (code: string) => REASON_WORDS[code] ?? code.replaceAll('_', ' ');

/** To a member: suspended until a date; their card is revoked meanwhile. */
export function membershipSuspended(input: Recipient & { until: Date; reasonCode: string }): MailContent {
  return render(`Your membership of ${input.partyName} is suspended`, input, [
    `Your membership of ${input.partyName} is suspended until ${formatNepalDate(input.until)} for ${reasonWords(input.reasonCode)}.`,
    `Your member ID card is revoked while the suspension lasts; a new card is sent to you when it ends.`,
    { ne: `तपाईंको सदस्यता ${formatNepalDate(input.until)} सम्म निलम्बन गरिएको छ।` },
  ]);
}

/** To a member: the suspension has ended; a new card is attached. */
export function suspensionLifted(input: Recipient & { memberNumber: string; idCard: MailAttachment }): MailContent {
  return render(`Your membership of ${input.partyName} is active again`, input, [
    `Your suspension has ended and your membership of ${input.partyName} is active again.`,
    `Member number: ${input.memberNumber}`,
    `Your new member ID card is attached (${input.idCard.filename}); the previous card stays revoked.`,
    { ne: `तपाईंको निलम्बन समाप्त भएको छ र सदस्यता पुनः सक्रिय भएको छ।` },
  ], [input.idCard]);
}

/** To a member: expelled, on a proposal confirmed by the parent committee. */
export function membershipExpelled(input: Recipient & { reasonCode: string }): MailContent {
  return render(`You have been expelled from ${input.partyName}`, input, [
    `On a proposal confirmed by its parent committee, ${input.partyName} has expelled you for ${reasonWords(input.reasonCode)}.`,
    `Your member ID card is revoked.`,
    { ne: `तपाईंलाई पार्टीबाट निष्कासन गरिएको छ।` },
  ]);
}

/** To a member: their resignation is recorded. */
export function membershipResigned(input: Recipient): MailContent {
  return render(`Your resignation from ${input.partyName} is recorded`, input, [
    `Your resignation from ${input.partyName} is recorded. Your member ID card is revoked.`,
    `If you did not ask for this, reply to this email at once.`,
    { ne: `तपाईंको राजीनामा दर्ता भएको छ।` },
  ]);
}

/** To a member who asked for it: the link that resigns their membership. */
export function resignationLink(input: Recipient & { link: string; expiresAt: Date }): MailContent {
  return render(`Your resignation link for ${input.partyName}`, input, [
    `You asked to resign your membership of ${input.partyName}. To resign, open this link before ${formatNepalDate(input.expiresAt)}:`,
    input.link,
    `If you did not ask for this, ignore this email: nothing changes unless the link is used.`,
    { ne: `सदस्यताबाट राजीनामा दिन माथिको लिङ्क प्रयोग गर्नुहोस्।` },
  ]);
}

/** A party date in both its languages, e.g. `1 Shrawan 2082 BS (१ साउन २०८२)`. */
export interface PartyDate {
  en: string;
  ne: string;
}

/** To a member: the renewal invoice of their term. */
export function renewalInvoiceIssued(input: Recipient & { invoiceId: string; amountPaisa: number; termEnds: PartyDate; lapsesOn: PartyDate }): MailContent {
  const amount = formatNpr(input.amountPaisa);
  return render(`Membership renewal invoice ${input.invoiceId}: ${amount} due by ${input.termEnds.en}`, input, [
    `Your membership of ${input.partyName} is due for renewal: your current term ends on ${input.termEnds.en}.`,
    `Invoice: ${input.invoiceId}\nAmount: ${amount}\nDue by: ${input.termEnds.en}`,
    `If it is not paid by then, your membership stays in good standing until ${input.lapsesOn.en}, and lapses on that day.`,
    { ne: `तपाईंको सदस्यता नवीकरण शुल्क ${amount} मिति ${input.termEnds.ne} भित्र भुक्तानी गर्नुहोला। भुक्तानी नभए सदस्यता ${input.lapsesOn.ne} मा समाप्त हुनेछ।` },
  ]);
}

/** To a member: renewed (or reinstated after a lapse), the new card attached when they hold one. */
export function membershipRenewed(input: Recipient & { memberNumber: string; paidThrough: PartyDate; reinstated: boolean; idCard: MailAttachment | null }): MailContent {
  const what = input.reinstated ? 'reinstated' : 'renewed';
  return render(`Your membership of ${input.partyName} is ${what}`, input, [
    input.reinstated
      ? `Thank you: your payment has reinstated your membership of ${input.partyName}, with the same member number.`
      : `Thank you: your membership of ${input.partyName} is renewed.`,
    `Member number: ${input.memberNumber}\nPaid through: ${input.paidThrough.en}`,
    ...(input.idCard ? [`Your new member ID card, valid through ${input.paidThrough.en}, is attached (${input.idCard.filename}); the previous card is no longer valid.`] : []),
    { ne: input.reinstated ? `तपाईंको सदस्यता पुनर्स्थापित भएको छ (${input.paidThrough.ne} सम्म)।` : `तपाईंको सदस्यता ${input.paidThrough.ne} सम्म नवीकरण भएको छ।` },
  ], input.idCard ? [input.idCard] : undefined);
}

/** To a member: the term ended unpaid and the grace period is over. */
export function membershipLapsed(input: Recipient & { paidUntil: PartyDate; reinstatableUntil: PartyDate }): MailContent {
  return render(`Your membership of ${input.partyName} has lapsed`, input, [
    `Your membership of ${input.partyName} was paid until ${input.paidUntil.en} and the renewal was not paid within the grace period, so it has lapsed. Your member ID card is revoked.`,
    `If you pay the renewal invoice before ${input.reinstatableUntil.en}, your membership is reinstated with the same member number.`,
    { ne: `नवीकरण शुल्क भुक्तानी नभएकाले तपाईंको सदस्यता समाप्त भएको छ। ${input.reinstatableUntil.ne} अघि भुक्तानी गरे सोही सदस्यता नम्बरसहित पुनर्स्थापित हुनेछ।` },
  ]);
}
