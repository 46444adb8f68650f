import type { MemberEvent } from '../../src/members/events.ts';
import { decide, replay } from '../../src/members/member-aggregate.ts';

const imported: MemberEvent = {
  type: 'MemberImported',
  payload: { importId: 'i-1', wardId: 'w-1', committeeId: null, geographyPath: 'p1.d1.l1.l1_w3', memberNumber: 'UML-2019-F-000042' },
};

test('an imported member is active with the number it was imported with', () => {
  expect(replay([imported])).toMatchObject({ status: 'active', version: 1, memberNumber: 'UML-2019-F-000042', cardIssued: false });
});

test('an imported member can be issued a card like any active member', () => {
  expect(decide({ type: 'IssueCard', cardId: 'c', tokenId: 't', validUntil: '2031-01-01' }, replay([imported]))).toEqual([
    { type: 'IdCardIssued', payload: { cardId: 'c', tokenId: 't', validUntil: '2031-01-01' } },
  ]);
});

test('a rolled-back import leaves the stream as if never begun, at its version', () => {
  const state = replay([imported, { type: 'MemberImportRolledBack', payload: { importId: 'i-1' } }]);
  expect(state).toMatchObject({ status: 'new', version: 2, memberNumber: null });
  expect(() => decide({ type: 'IssueCard', cardId: 'c', tokenId: 't', validUntil: '2031-01-01' }, state)).toThrow(/member is new/);
});
