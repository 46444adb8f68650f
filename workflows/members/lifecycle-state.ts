import { ApplicationFailure, log, upsertSearchAttributes } from '@temporalio/workflow';
import { MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';
import type { ApproveMessage, LifecycleStatus, MemberStageName, PaymentMessage, RejectMessage, WithdrawMessage } from './messages.ts';

export type Decision = { approved: true; message: ApproveMessage } | { approved: false; message: RejectMessage };

/** The workflow's own record of where the lifecycle is and what it has been told. */
export class LifecycleState {
  stage: MemberStageName = 'Registered';
  history: LifecycleStatus['history'] = [{ stage: 'Registered', at: new Date().toISOString() }];
  invoice: LifecycleStatus['invoice'] = null;
  memberNumber: string | null = null;
  escalated = false;
  decision: Decision | undefined;
  payment: PaymentMessage | undefined;
  withdrawal: WithdrawMessage | undefined;
  readonly #refusals: { payment: PaymentMessage; code: string; message: string }[] = [];

  enter(stage: MemberStageName): void {
    const at = new Date();
    this.stage = stage;
    this.history.push({ stage, at: at.toISOString() });
    upsertSearchAttributes([
      { key: MemberStage, value: stage },
      { key: StageEnteredAt, value: at },
    ]);
  }

  status(): LifecycleStatus {
    return { stage: this.stage, history: this.history, invoice: this.invoice, memberNumber: this.memberNumber, escalated: this.escalated };
  }

  /** @throws ApplicationFailure MEMBER_NOT_AWAITING_APPROVAL */
  checkDecision(): void {
    if (this.stage !== 'AwaitingApproval' || this.decision || this.withdrawal) {
      const why = this.decision || this.withdrawal ? 'already decided or withdrawn' : `${this.stage}, not awaiting approval`;
      throw ApplicationFailure.nonRetryable(`the application is ${why}`, 'MEMBER_NOT_AWAITING_APPROVAL');
    }
  }

  /**
   * A repeat of the accepted payment (same provider reference) is accepted again and changes
   * nothing; anything else must match the open invoice exactly.
   * @throws ApplicationFailure MEMBER_NOT_AWAITING_PAYMENT, PAYMENT_AMOUNT_MISMATCH
   */
  checkPayment(payment: PaymentMessage): 'new' | 'repeat' {
    if (this.payment && this.payment.provider === payment.provider && this.payment.providerRef === payment.providerRef) return 'repeat';
    const refused = this.refusalOf(payment);
    if (refused) throw ApplicationFailure.nonRetryable(refused.message, refused.code);
    if (this.stage !== 'AwaitingPayment' || this.payment || this.withdrawal || !this.invoice) {
      throw ApplicationFailure.nonRetryable(`the application is ${this.stage}, not awaiting payment`, 'MEMBER_NOT_AWAITING_PAYMENT');
    }
    const invoice = this.invoice;
    if (payment.invoiceId !== invoice.invoiceId || payment.amount !== invoice.amountMinor || payment.currency !== invoice.currency) {
      throw ApplicationFailure.nonRetryable(
        `payment of ${payment.amount} ${payment.currency} for ${payment.invoiceId} does not match invoice ${invoice.invoiceId} (${invoice.amountMinor} ${invoice.currency})`,
        'PAYMENT_AMOUNT_MISMATCH',
      );
    }
    return 'new';
  }

  /** The activity refused this payment: tell its sender, and wait for another. */
  refusePayment(payment: PaymentMessage, code: string, message: string): void {
    this.#refusals.push({ payment, code, message });
    this.payment = undefined;
  }

  refusalOf(payment: PaymentMessage): { code: string; message: string } | undefined {
    return this.#refusals.find((r) => r.payment.provider === payment.provider && r.payment.providerRef === payment.providerRef);
  }

  /** @throws ApplicationFailure MEMBER_CANNOT_WITHDRAW */
  checkWithdrawal(): void {
    const open = (this.stage === 'AwaitingApproval' && !this.decision) || (this.stage === 'AwaitingPayment' && !this.payment);
    if (!open || this.withdrawal) throw ApplicationFailure.nonRetryable(`the application is ${this.stage} and cannot be withdrawn`, 'MEMBER_CANNOT_WITHDRAW');
  }

  /** Signals have no caller to answer: an invalid one is logged and dropped. */
  static ignoreInvalid(apply: () => void, what: string): void {
    try {
      apply();
    } catch (err) {
      log.warn(`ignored ${what} signal`, { reason: (err as Error).message });
    }
  }
}
