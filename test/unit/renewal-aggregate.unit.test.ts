/** Renewal, lapse and reinstatement, as the member aggregate decides them (src/members/renewal-rules.ts). */
import { decide, evolve, replay, initialMemberState, type MemberCommand, type MemberState } from '../../src/members/member-aggregate.ts';
import type { MemberEvent } from '../../src/members/events.ts';

const run = (commands: MemberCommand[], from: MemberState = initialMemberState): { state: MemberState; events: MemberEvent[] } =>
  commands.reduce(
    (acc, command) => {
      const events = decide(command, acc.state);
      return { state: events.reduce(evolve, acc.state), events: [...acc.events, ...events] };
    },
    { state: from, events: [] as MemberEvent[] },
  );

const admitted = run([{ type: 'Register', wardId: 'w', committeeId: 'c', geographyPath: 'p1.d1.l1.w1' }, { type: 'Approve', by: 'user:head', note: null },
  { type: 'IssueInvoice', invoiceId: 'inv-1', amountMinor: 1, currency: 'NPR', dueAt: '2026-12-01T00:00:00Z' },
  { type: 'RecordPayment', paymentId: 'p', invoiceId: 'inv-1', amountMinor: 1, currency: 'NPR', provider: 'esewa', providerRef: 'r', paidAt: '2026-11-24T00:00:00Z' },
  { type: 'Activate', memberNumber: 'X-1' }, { type: 'IssueCard', cardId: 'c1', tokenId: 't1', validUntil: '2027-11-23' }]);
const active = admitted.state;

const invoice: MemberCommand = { type: 'IssueRenewalInvoice', invoiceId: 'ren-1', termNumber: 1, amountMinor: 10_001, currency: 'NPR', dueAt: '2027-11-24T00:00:00Z' };
const payment = (over: Partial<Extract<MemberCommand, { type: 'RecordRenewalPayment' }>> = {}): MemberCommand =>
  ({ type: 'RecordRenewalPayment', paymentId: 'p2', invoiceId: 'ren-1', amountMinor: 10_001, currency: 'NPR', provider: 'manual', providerRef: 'R-1', paidAt: '2027-11-01T00:00:00Z', ...over });
const lapse: MemberCommand = { type: 'LapseTerm', termNumber: 1, paidUntil: '2027-11-24', graceUntil: '2028-01-23' };
const startTerm: MemberCommand = { type: 'StartTerm', termId: 't2', termNumber: 2, from: '2027-11-24', to: '2028-11-24', paymentId: 'p2', waived: false };
const codeOf = (command: MemberCommand, state: MemberState) => {
  try {
    decide(command, state);
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  }
};
const fieldOf = (command: MemberCommand, state: MemberState) => {
  try {
    decide(command, state);
    return null;
  } catch (err) {
    return (err as { field?: string }).field ?? null;
  }
};

test('renewed: the invoice is open until its payment, a new term starts, and the events replay to the same state', () => {
  const opened = run([invoice], active).state;
  expect(opened.renewalInvoice).toEqual({ invoiceId: 'ren-1', termNumber: 1, amountMinor: 10_001, currency: 'NPR' });
  const { state, events } = run([payment(), startTerm, { type: 'RevokeCard', cardId: 'c1', reason: 'superseded' },
    { type: 'IssueCard', cardId: 'c2', tokenId: 't2', validUntil: '2028-11-23' }], opened);
  expect(events.map((e) => e.type)).toEqual(['RenewalPaymentReceived', 'TermStarted', 'IdCardRevoked', 'IdCardIssued']);
  expect(state).toMatchObject({ status: 'active', renewalInvoice: null, memberNumber: 'X-1', cardIssued: true });
  const all = [...admitted.events, ...run([invoice], active).events, ...events];
  expect(replay(all)).toEqual(state);
});

test('lapsed after the grace period, then reinstated with the same number by a payment of the same invoice', () => {
  const lapsed = run([invoice, lapse], active).state;
  expect(lapsed).toMatchObject({ status: 'lapsed', renewalInvoice: { invoiceId: 'ren-1' } });
  const { state, events } = run([payment(), { type: 'Reinstate', termNumber: 2, paymentId: 'p2' }, startTerm], lapsed);
  expect(events.map((e) => e.type)).toEqual(['RenewalPaymentReceived', 'MemberReinstated', 'TermStarted']);
  expect(state).toMatchObject({ status: 'active', memberNumber: 'X-1', renewalInvoice: null });
});

test('the reinstatement window closing voids the renewal invoice; the member stays lapsed and can no longer pay it', () => {
  const { state, events } = run([invoice, lapse, { type: 'CloseRenewal' }], active);
  expect(events.at(-1)).toEqual({ type: 'InvoiceVoided', payload: { invoiceId: 'ren-1', reason: 'reinstatement_window_closed' } });
  expect(state).toMatchObject({ status: 'lapsed', renewalInvoice: null });
  expect(codeOf(payment(), state)).toBe('RENEWAL_NOT_OPEN');
});

test.each<[string, MemberCommand[], MemberCommand, string]>([
  ['a second renewal invoice while one is open', [invoice], invoice, 'RENEWAL_IN_PROGRESS'],
  ['a renewal payment with no invoice open', [], payment(), 'RENEWAL_NOT_OPEN'],
  ['a lapse with no invoice open', [], lapse, 'RENEWAL_NOT_OPEN'],
  ['a lapse of a lapsed member', [invoice, lapse], lapse, 'MEMBER_NOT_ACTIVE'],
  ['reinstating an active member', [], { type: 'Reinstate', termNumber: 2, paymentId: 'p2' }, 'MEMBER_NOT_LAPSED'],
  ['a renewal invoice to a resigned member', [{ type: 'Resign', via: 'staff', reasonCode: 'personal' }], invoice, 'MEMBER_NOT_ACTIVE'],
  ['a renewal payment by a resigned member', [invoice, { type: 'Resign', via: 'staff', reasonCode: 'personal' }], payment(), 'MEMBER_NOT_ACTIVE'],
  ['another invoice', [invoice], payment({ invoiceId: 'inv-1' }), 'INVOICE_MISMATCH'],
  ['another amount', [invoice], payment({ amountMinor: 10_000 }), 'PAYMENT_AMOUNT_MISMATCH'],
  ['another currency', [invoice], payment({ currency: 'INR' }), 'PAYMENT_AMOUNT_MISMATCH'],
])('refused: %s', (_name, before, command, code) => {
  expect(codeOf(command, run(before, active).state)).toBe(code);
});

test('a refused payment names the field that differs', () => {
  const opened = run([invoice], active).state;
  expect(fieldOf(payment({ invoiceId: 'inv-1' }), opened)).toBe('invoiceId');
  expect(fieldOf(payment({ amountMinor: 1 }), opened)).toBe('amount');
  expect(fieldOf(payment({ currency: 'USD' }), opened)).toBe('currency');
});

test('a suspended member owes dues: invoiced, paid, and a term starts while they stay suspended', () => {
  const suspended = run([{ type: 'Suspend', until: '2028-01-01T00:00:00.000Z', reasonCode: 'indiscipline' }], active).state;
  const { state } = run([invoice, payment(), startTerm], suspended);
  expect(state).toMatchObject({ status: 'suspended', renewalInvoice: null });
});
