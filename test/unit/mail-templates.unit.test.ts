import type { MailContent } from '../../src/mail/mailer.ts';
import {
  applicationApproved,
  applicationLapsed,
  applicationRejected,
  escapeHtml,
  formatNepalDate,
  formatNpr,
  invoiceIssued,
  membershipActivated,
} from '../../src/mail/templates.ts';

const hostile = `<script>alert("x")</script> & 'co'`;
const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;';
const idCard = { filename: 'member-card.pdf', contentType: 'application/pdf', content: new Uint8Array([37, 80, 68, 70]) };
const recipient = { recipientName: hostile, partyName: hostile };

const everyTemplate: Array<[string, () => MailContent]> = [
  ['applicationApproved', () => applicationApproved(recipient)],
  ['applicationRejected', () => applicationRejected({ ...recipient, reason: hostile })],
  ['invoiceIssued', () => invoiceIssued({ ...recipient, invoiceId: hostile, amountPaisa: 150_000, dueDate: new Date('2026-03-15T00:00:00Z') })],
  ['applicationLapsed', () => applicationLapsed({ ...recipient, invoiceId: hostile })],
  ['membershipActivated', () => membershipActivated({ ...recipient, memberNumber: hostile, idCard })],
];

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and attributes', () => {
    expect(escapeHtml(hostile)).toBe(escaped);
  });
});

describe.each(everyTemplate)('%s', (_name, build) => {
  it('escapes every interpolated value in the HTML', () => {
    const { html } = build();
    expect(html).not.toContain('<script>');
    expect(html).not.toContain(`'co'`);
    expect(html).toContain(`Dear ${escaped},`);
    expect(html).toContain(`<title>${escapeHtml(build().subject)}</title>`);
  });

  it('keeps values as written in the text part', () => {
    expect(build().text).toContain(`Dear ${hostile},`);
  });

  it('has a Nepali paragraph marked as such', () => {
    expect(build().html).toMatch(/<p lang="ne">[\u0900-\u097F]/);
  });
});

describe('formatNpr', () => {
  it.each([
    [0, 'NPR 0.00'],
    [5, 'NPR 0.05'],
    [150_000, 'NPR 1,500.00'],
    [10_000_000, 'NPR 1,00,000.00'],
    [12_345_678_901n, 'NPR 12,34,56,789.01'],
    [900_719_925_474_099_312n, 'NPR 9,00,71,99,25,47,40,993.12'],
  ])('formats %p paisa as %s', (paisa, expected) => {
    expect(formatNpr(paisa)).toBe(expected);
  });

  it.each([-1, -1n, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('rejects %p', (paisa) => {
    expect(() => formatNpr(paisa)).toThrow(RangeError);
  });
});

describe('invoiceIssued', () => {
  const mail = invoiceIssued({
    recipientName: 'Sita',
    partyName: 'Test Party',
    invoiceId: 'INV-2026-0042',
    amountPaisa: 250_050n,
    dueDate: new Date('2026-03-15T20:00:00Z'),
  });

  it('states the invoice, the amount in rupees and the due date as a Nepal calendar date', () => {
    expect(mail.text).toContain('Invoice: INV-2026-0042');
    expect(mail.text).toContain('Amount: NPR 2,500.50');
    expect(mail.text).toContain('Due by: 16 March 2026');
    expect(mail.subject).toBe('Membership fee invoice INV-2026-0042: NPR 2,500.50 due by 16 March 2026');
  });

  it('refuses a fractional amount and an invalid date', () => {
    const base = { recipientName: 'Sita', partyName: 'P', invoiceId: 'I', dueDate: new Date('2026-03-15') };
    expect(() => invoiceIssued({ ...base, amountPaisa: 10.5 })).toThrow(RangeError);
    expect(() => invoiceIssued({ ...base, amountPaisa: 100, dueDate: new Date('nope') })).toThrow(RangeError);
  });
});

describe('formatNepalDate', () => {
  it('uses Nepal time (UTC+05:45)', () => {
    expect(formatNepalDate(new Date('2026-03-15T18:14:00Z'))).toBe('15 March 2026');
    expect(formatNepalDate(new Date('2026-03-15T18:15:00Z'))).toBe('16 March 2026');
  });
});

describe('applicationRejected', () => {
  it('gives the reason in both languages', () => {
    const mail = applicationRejected({ recipientName: 'Ram', partyName: 'P', reason: 'Not a resident of the ward' });
    expect(mail.text).toContain('Reason: Not a resident of the ward');
    expect(mail.html).toContain('कारण: Not a resident of the ward');
  });
});

describe('attachments', () => {
  it('attaches the ID card to the activation message only', () => {
    const mail = membershipActivated({ recipientName: 'Ram', partyName: 'P', memberNumber: 'P-000001', idCard });
    expect(mail.attachments).toEqual([idCard]);
    expect(mail.text).toContain('Member number: P-000001');
    for (const [name, build] of everyTemplate) {
      if (name !== 'membershipActivated') expect(build().attachments).toBeUndefined();
    }
  });
});
