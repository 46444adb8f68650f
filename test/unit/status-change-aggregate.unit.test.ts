/** Status changes after admission, as the member aggregate decides them (src/members/status-change-rules.ts). */
import { decide, evolve, initialMemberState, replay, type MemberCommand, type MemberState } from '../../src/members/member-aggregate.ts';
import type { MemberEvent } from '../../src/members/events.ts';

const run = (commands: MemberCommand[], from: MemberState = initialMemberState): { state: MemberState; events: MemberEvent[] } =>
  commands.reduce(
    (acc, command) => {
      const events = decide(command, acc.state);
      return { state: events.reduce(evolve, acc.state), events: [...acc.events, ...events] };
    },
    { state: from, events: [] as MemberEvent[] },
  );

const active = run([{ type: 'Register', wardId: 'w', committeeId: 'c', geographyPath: 'p1.d1.l1.w1' }, { type: 'Approve', by: 'user:head', note: null },
  { type: 'IssueInvoice', invoiceId: 'inv-1', amountMinor: 1, currency: 'NPR', dueAt: '2026-12-01T00:00:00Z' },
  { type: 'RecordPayment', paymentId: 'p', invoiceId: 'inv-1', amountMinor: 1, currency: 'NPR', provider: 'esewa', providerRef: 'r', paidAt: '2026-11-24T00:00:00Z' },
  { type: 'Activate', memberNumber: 'X-1' }, { type: 'IssueCard', cardId: 'c1', tokenId: 't1', validUntil: '2031-01-01' }]).state;

const suspend: MemberCommand = { type: 'Suspend', until: '2027-01-01T00:00:00.000Z', reasonCode: 'indiscipline' };
const propose: MemberCommand = { type: 'ProposeExpulsion', by: 'user:local-head', reasonCode: 'misconduct', committeeId: 'local' };
const codeOf = (command: MemberCommand, state: MemberState) => {
  try {
    decide(command, state);
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  }
};

test('suspended, lifted, and a new card may be issued; the events replay to the same state', () => {
  const { state, events } = run([suspend, { type: 'RevokeCard', cardId: 'c1', reason: 'suspended' }, { type: 'LiftSuspension', early: false },
    { type: 'IssueCard', cardId: 'c2', tokenId: 't2', validUntil: '2032-01-01' }], active);
  expect(events.map((e) => e.type)).toEqual(['MemberSuspended', 'IdCardRevoked', 'MemberSuspensionLifted', 'IdCardIssued']);
  expect(state).toMatchObject({ status: 'active', suspendedUntil: null, cardIssued: true });
});

test('an expulsion takes a proposal and another person; the proposer confirming is refused', () => {
  const proposed = run([propose], active).state;
  expect(proposed).toMatchObject({ status: 'active', expulsionProposal: { by: 'user:local-head', reasonCode: 'misconduct', committeeId: 'local' } });
  expect(codeOf({ type: 'ConfirmExpulsion', by: 'user:local-head' }, proposed)).toBe('EXPULSION_SAME_PERSON');
  expect(codeOf({ type: 'ConfirmExpulsion', by: 'user:district-head' }, active)).toBe('EXPULSION_NOT_PROPOSED');
  expect(codeOf(propose, proposed)).toBe('EXPULSION_ALREADY_PROPOSED');
  const { state, events } = run([{ type: 'ConfirmExpulsion', by: 'user:district-head' }], proposed);
  expect(events).toEqual([{ type: 'MemberExpelled', payload: { proposedBy: 'user:local-head', confirmedBy: 'user:district-head', reasonCode: 'misconduct' } }]);
  expect(state).toMatchObject({ status: 'expelled', expulsionProposal: null });
});

test.each<[string, MemberCommand[], MemberCommand, string]>([
  ['suspending a suspended member', [suspend], suspend, 'MEMBER_NOT_ACTIVE'],
  ['lifting an active member', [], { type: 'LiftSuspension', early: true }, 'MEMBER_NOT_SUSPENDED'],
  ['resigning when suspended', [suspend], { type: 'Resign', via: 'link', reasonCode: 'personal' }, 'MEMBER_NOT_ACTIVE'],
  ['expelling when suspended', [propose, suspend], { type: 'ConfirmExpulsion', by: 'user:district-head' }, 'MEMBER_NOT_ACTIVE'],
  ['resigning twice', [{ type: 'Resign', via: 'staff', reasonCode: 'health' }], { type: 'Resign', via: 'link', reasonCode: 'personal' }, 'MEMBER_NOT_ACTIVE'],
  ['a death after resignation', [{ type: 'Resign', via: 'staff', reasonCode: 'health' }], { type: 'RecordDeath', recordedBy: 'user:r' }, 'MEMBER_NOT_ACTIVE'],
  ['a second death', [{ type: 'RecordDeath', recordedBy: 'user:r' }], { type: 'RecordDeath', recordedBy: 'user:r' }, 'MEMBER_NOT_ACTIVE'],
])('%s is refused with its code', (_name, before, command, code) => {
  expect(codeOf(command, run(before, active).state)).toBe(code);
});

test('only an active member: an applicant can be neither suspended, proposed for expulsion, nor resign', () => {
  const applicant = run([{ type: 'Register', wardId: 'w', committeeId: 'c', geographyPath: 'p' }]).state;
  expect([suspend, propose, { type: 'Resign', via: 'staff', reasonCode: 'other' } as MemberCommand, { type: 'RecordDeath', recordedBy: 'u' } as MemberCommand]
    .map((command) => codeOf(command, applicant))).toEqual(['MEMBER_NOT_ACTIVE', 'MEMBER_NOT_ACTIVE', 'MEMBER_NOT_ACTIVE', 'MEMBER_NOT_ACTIVE']);
});

test('a death is recorded for a suspended member too, and replays', () => {
  const { state, events } = run([suspend, { type: 'RecordDeath', recordedBy: 'user:registrar' }], active);
  expect(state).toMatchObject({ status: 'deceased', suspendedUntil: null });
  expect(replay(events).status).toBe('deceased');
});
