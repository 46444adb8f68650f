import { decide, evolve, initialMemberState, MemberRuleError, replay, type MemberCommand, type MemberState } from '../../src/members/member-aggregate.ts';
import type { MemberEvent } from '../../src/members/events.ts';

const run = (commands: MemberCommand[]): { state: MemberState; events: MemberEvent[] } =>
  commands.reduce(
    (acc, command) => {
      const events = decide(command, acc.state);
      return { state: events.reduce(evolve, acc.state), events: [...acc.events, ...events] };
    },
    { state: initialMemberState, events: [] as MemberEvent[] },
  );

const register: MemberCommand = { type: 'Register', wardId: 'w', committeeId: 'c', geographyPath: 'p1.d1.l1.w1' };
const invoice: MemberCommand = { type: 'IssueInvoice', invoiceId: 'inv-1', amountMinor: 50_000, currency: 'NPR', dueAt: '2026-12-01T00:00:00Z' };
const pay = (over: Partial<Extract<MemberCommand, { type: 'RecordPayment' }>> = {}): MemberCommand => ({
  type: 'RecordPayment', paymentId: 'pay-1', invoiceId: 'inv-1', amountMinor: 50_000, currency: 'NPR', provider: 'esewa', providerRef: 'r1', paidAt: '2026-11-24T00:00:00Z', ...over,
});
const approve: MemberCommand = { type: 'Approve', by: 'user:head', note: null };

test('the full lifecycle yields its events in order and ends active with a card', () => {
  const { state, events } = run([register, approve, invoice, pay(), { type: 'Activate', memberNumber: 'UML-2026-F-000001' }, { type: 'IssueCard', cardId: 'c1', tokenId: 't1', validUntil: '2031-11-24' }]);
  expect(events.map((e) => e.type)).toEqual(['MemberRegistered', 'MemberApproved', 'InvoiceIssued', 'PaymentReceived', 'MemberActivated', 'IdCardIssued']);
  expect(state).toMatchObject({ status: 'active', version: 6, memberNumber: 'UML-2026-F-000001', cardIssued: true, paid: true });
  expect(replay(events)).toEqual(state);
});

test.each<[string, MemberCommand[], MemberCommand, string]>([
  ['approving twice', [register, approve, invoice], approve, 'MEMBER_NOT_AWAITING_APPROVAL'],
  ['rejecting after approval and invoice', [register, approve, invoice], { type: 'Reject', by: 'u', reason: 'r' }, 'MEMBER_NOT_AWAITING_APPROVAL'],
  ['paying the wrong amount', [register, approve, invoice], pay({ amountMinor: 1 }), 'PAYMENT_AMOUNT_MISMATCH'],
  ['paying another invoice', [register, approve, invoice], pay({ invoiceId: 'inv-2' }), 'INVOICE_MISMATCH'],
  ['paying twice', [register, approve, invoice, pay()], pay({ providerRef: 'r2' }), 'INVOICE_ALREADY_PAID'],
  ['activating unpaid', [register, approve, invoice], { type: 'Activate', memberNumber: 'X' }, 'MEMBER_NOT_PAID'],
  ['expiring a paid invoice', [register, approve, invoice, pay()], { type: 'Expire' }, 'INVOICE_ALREADY_PAID'],
  ['withdrawing when active', [register, approve, invoice, pay(), { type: 'Activate', memberNumber: 'X' }], { type: 'Withdraw', reason: 'r' }, 'MEMBER_CANNOT_WITHDRAW'],
  ['registering twice', [register], register, 'MEMBER_ALREADY_REGISTERED'],
  ['a second card', [register, approve, invoice, pay(), { type: 'Activate', memberNumber: 'X' }, { type: 'IssueCard', cardId: 'c', tokenId: 't', validUntil: '2031-01-01' }], { type: 'IssueCard', cardId: 'c2', tokenId: 't2', validUntil: '2031-01-01' }, 'CARD_ALREADY_ISSUED'],
])('%s is refused with its code', (_name, before, command, code) => {
  const { state } = run(before);
  expect(() => decide(command, state)).toThrow(MemberRuleError);
  expect(() => decide(command, state)).toThrow(expect.objectContaining({ code }) as Error);
});

test('expiry voids the invoice and lapses the application', () => {
  const { state, events } = run([register, approve, invoice, { type: 'Expire' }]);
  expect(events.slice(-2)).toEqual([
    { type: 'InvoiceVoided', payload: { invoiceId: 'inv-1', reason: 'expired' } },
    { type: 'MemberLapsed', payload: { invoiceId: 'inv-1' } },
  ]);
  expect(state.status).toBe('expired');
});

test('withdrawal before payment voids an open invoice', () => {
  const { events, state } = run([register, approve, invoice, { type: 'Withdraw', reason: 'moved abroad' }]);
  expect(events.slice(-2).map((e) => e.type)).toEqual(['InvoiceVoided', 'MemberWithdrawn']);
  expect(state.status).toBe('withdrawn');
});

test('a transfer moves an active member only, keeps the number, and makes room for a card naming the new ward', () => {
  const active = [register, approve, invoice, pay(), { type: 'Activate', memberNumber: 'X-1' }, { type: 'IssueCard', cardId: 'c1', tokenId: 't1', validUntil: '2031-01-01' }] as MemberCommand[];
  const moves = { transferId: 'tr-1', fromWardId: 'w', toWardId: 'w2' };
  const { state, events } = run([...active, { type: 'RequestTransfer', ...moves }, { type: 'RevokeCard', cardId: 'c1', reason: 'superseded' }, { type: 'Transfer', ...moves },
    { type: 'IssueCard', cardId: 'c2', tokenId: 't2', validUntil: '2031-01-01' }]);
  expect(events.slice(-4).map((e) => e.type)).toEqual(['MemberTransferRequested', 'IdCardRevoked', 'MemberTransferred', 'IdCardIssued']);
  expect(state).toMatchObject({ status: 'active', memberNumber: 'X-1', cardIssued: true });
  expect(replay(events)).toEqual(state);
  expect(() => run([register, { type: 'RequestTransfer', ...moves }])).toThrow(expect.objectContaining({ code: 'MEMBER_NOT_ACTIVE' }));
  expect(() => run([register, approve, invoice, { type: 'Transfer', ...moves }])).toThrow(MemberRuleError);
});
