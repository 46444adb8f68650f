import { ApplicationFailure } from '@temporalio/common';
import type { AdmissionPosition, Refusal } from '../../src/members/admission-rules.ts';
import type { MemberStageName, PaymentMessage } from '../../src/members/lifecycle-contract.ts';
import { decide, evolve, initialMemberState, MemberRuleError, type MemberCommand, type MemberState } from '../../src/members/member-aggregate.ts';
import { LifecycleState } from '../../workflows/members/lifecycle-state.ts';

const invoice = { invoiceId: 'inv-1', amountMinor: 50_000, currency: 'NPR', dueAt: '2026-12-31T00:00:00.000Z' };
const payment = (over: Partial<PaymentMessage> = {}): PaymentMessage => ({
  invoiceId: 'inv-1', amount: 50_000, currency: 'NPR', provider: 'esewa', providerRef: 'r1', paidAt: '2026-12-04T00:00:00.000Z', ...over,
});

/** The workflow's state after these stages and messages (no search attributes: the stage is set directly). */
function lifecycle(stage: MemberStageName, taken: { approved?: boolean; rejected?: boolean; paid?: boolean; withdrawn?: boolean } = {}): LifecycleState {
  const state = new LifecycleState();
  state.stage = stage;
  if (stage === 'AwaitingPayment' || stage === 'Paid') state.invoice = invoice;
  if (taken.approved) state.decision = { approved: true, message: { by: 'user:head' } };
  if (taken.rejected) state.decision = { approved: false, message: { by: 'user:head', reason: 'no' } };
  if (taken.paid) state.payment = payment();
  if (taken.withdrawn) state.withdrawal = { reason: 'moved' };
  return state;
}

/** The aggregate's state after these commands. */
function member(...commands: MemberCommand[]): MemberState {
  return commands.reduce((state, command) => decide(command, state).reduce(evolve, state), initialMemberState);
}

const register: MemberCommand = { type: 'Register', wardId: 'w', committeeId: 'c', geographyPath: 'p.d.l.w' };
const approve: MemberCommand = { type: 'Approve', by: 'user:head', note: null };
const issue: MemberCommand = { type: 'IssueInvoice', ...invoice };
const pay = (over: Partial<PaymentMessage> = {}): MemberCommand => {
  const { amount, ...rest } = payment(over);
  return { type: 'RecordPayment', paymentId: 'pay-1', amountMinor: amount, ...rest };
};

/** The code a workflow check throws, or null when it accepts. */
function workflowCode(check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    return (err as ApplicationFailure).type ?? 'untyped';
  }
}

/** The code the aggregate refuses a command with, or null when it decides events. */
function aggregateCode(state: MemberState, command: MemberCommand): string | null {
  try {
    decide(command, state);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(MemberRuleError);
    return (err as MemberRuleError).code;
  }
}

describe('the workflow and the aggregate apply the same admission rules', () => {
  test.each<[string, LifecycleState, MemberState, string | null]>([
    ['awaiting approval', lifecycle('AwaitingApproval'), member(register), null],
    ['approved, invoice not yet issued', lifecycle('Approved', { approved: true }), member(register, approve), 'MEMBER_NOT_AWAITING_APPROVAL'],
    ['awaiting payment', lifecycle('AwaitingPayment', { approved: true }), member(register, approve, issue), 'MEMBER_NOT_AWAITING_APPROVAL'],
  ])('a decision while %s', (_name, workflow, aggregate, code) => {
    expect(workflowCode(() => workflow.checkDecision())).toBe(code);
    expect(aggregateCode(aggregate, approve)).toBe(code);
    expect(aggregateCode(aggregate, { type: 'Reject', by: 'user:head', reason: 'no' })).toBe(code);
  });

  test.each<[string, LifecycleState, MemberState, string | null]>([
    ['awaiting approval', lifecycle('AwaitingApproval'), member(register), null],
    ['approved, invoice not yet issued', lifecycle('Approved', { approved: true }), member(register, approve), 'MEMBER_CANNOT_WITHDRAW'],
    ['awaiting payment', lifecycle('AwaitingPayment', { approved: true }), member(register, approve, issue), null],
    ['paid', lifecycle('Paid', { approved: true, paid: true }), member(register, approve, issue, pay()), 'MEMBER_CANNOT_WITHDRAW'],
  ])('a withdrawal while %s', (_name, workflow, aggregate, code) => {
    expect(workflowCode(() => workflow.checkWithdrawal())).toBe(code);
    expect(aggregateCode(aggregate, { type: 'Withdraw', reason: 'moved' })).toBe(code);
  });

  test.each<[string, Partial<PaymentMessage>, string | null, string | undefined]>([
    ['the invoice exactly', {}, null, undefined],
    ['another invoice', { invoiceId: 'inv-2' }, 'INVOICE_MISMATCH', 'invoiceId'],
    ['another currency', { currency: 'USD' }, 'PAYMENT_AMOUNT_MISMATCH', 'currency'],
    ['another amount', { amount: 1 }, 'PAYMENT_AMOUNT_MISMATCH', 'amount'],
  ])('a payment of %s', (_name, over, code, field) => {
    expect(workflowCode(() => lifecycle('AwaitingPayment', { approved: true }).checkPayment(payment(over)))).toBe(code);
    expect(aggregateCode(member(register, approve, issue), pay(over))).toBe(code);
    if (field) {
      expect(() => lifecycle('AwaitingPayment', { approved: true }).checkPayment(payment(over))).toThrow(expect.objectContaining({ details: [{ field }] }) as Error);
      expect(() => decide(pay(over), member(register, approve, issue))).toThrow(expect.objectContaining({ field }) as Error);
    }
  });

  test('a payment before the invoice, and a second payment, are refused alike', () => {
    expect(workflowCode(() => lifecycle('Approved', { approved: true }).checkPayment(payment()))).toBe('MEMBER_NOT_AWAITING_PAYMENT');
    expect(aggregateCode(member(register, approve), pay())).toBe('MEMBER_NOT_AWAITING_PAYMENT');
    expect(workflowCode(() => lifecycle('Paid', { approved: true, paid: true }).checkPayment(payment({ providerRef: 'r2' })))).toBe('INVOICE_ALREADY_PAID');
    expect(aggregateCode(member(register, approve, issue, pay()), pay({ providerRef: 'r2' }))).toBe('INVOICE_ALREADY_PAID');
  });

  test('the aggregate issues an invoice only after approval, as the workflow does', () => {
    expect(aggregateCode(member(register), issue)).toBe('MEMBER_NOT_APPROVED');
    expect(aggregateCode(member(register, approve), issue)).toBeNull();
    expect(aggregateCode(member(register, approve, issue), issue)).toBe('MEMBER_NOT_APPROVED');
  });
});

describe('LifecycleState', () => {
  test('its position counts the messages it has taken but not yet recorded', () => {
    const expected: AdmissionPosition = { status: 'awaiting_approval', decided: true, approved: false, withdrawing: false, paid: false, invoice: null };
    expect(lifecycle('AwaitingApproval', { rejected: true }).position()).toEqual(expected);
    expect(lifecycle('Registered').position().status).toBe('new');
    expect(lifecycle('CardIssued').position().status).toBe('active');
  });

  test('a withdrawal taken closes the application to decisions, payments and another withdrawal', () => {
    expect(workflowCode(() => lifecycle('AwaitingApproval', { withdrawn: true }).checkDecision())).toBe('MEMBER_NOT_AWAITING_APPROVAL');
    expect(workflowCode(() => lifecycle('AwaitingPayment', { approved: true, withdrawn: true }).checkPayment(payment()))).toBe('MEMBER_NOT_AWAITING_PAYMENT');
    expect(workflowCode(() => lifecycle('AwaitingPayment', { approved: true, withdrawn: true }).checkWithdrawal())).toBe('MEMBER_CANNOT_WITHDRAW');
  });

  test('a repeat of the accepted payment is accepted again; another reference is not', () => {
    const state = lifecycle('AwaitingPayment', { approved: true, paid: true });
    expect(state.checkPayment(payment())).toBe('repeat');
    expect(workflowCode(() => state.checkPayment(payment({ providerRef: 'r2' })))).toBe('INVOICE_ALREADY_PAID');
  });

  test('a payment the activity refused is refused again with the same code and field, and the wait goes on', () => {
    const state = lifecycle('AwaitingPayment', { approved: true, paid: true });
    const refusal: Refusal = { code: 'DUPLICATE_PAYMENT_REFERENCE', message: 'esewa reference r1 already paid another invoice', field: 'reference' };
    state.refusePayment(payment(), refusal);
    expect(state.payment).toBeUndefined();
    expect(state.refusalOf(payment())).toEqual(refusal);
    expect(() => state.checkPayment(payment())).toThrow(expect.objectContaining({ type: 'DUPLICATE_PAYMENT_REFERENCE', details: [{ field: 'reference' }] }) as Error);
    expect(state.checkPayment(payment({ providerRef: 'r2' }))).toBe('new');
  });

  test('the stage names a refused message in its message', () => {
    expect(() => lifecycle('Approved', { approved: true }).checkPayment(payment())).toThrow('the application is Approved, not awaiting payment');
  });
});
