import { ApplicationFailure, log, patched, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { MEMO_FOLLOWS_STAGE } from '../../src/temporal/workflow-patches.ts';
import { fieldDetails } from '../../src/errors/failure-details.ts';
import * as rules from '../../src/members/admission-rules.ts';
import type { AdmissionPosition, Refusal } from '../../src/members/admission-rules.ts';
import type { ApproveMessage, LifecycleStatus, MemberStageName, PaymentMessage, RecordedPayment, RejectMessage, WithdrawMessage } from '../../src/members/lifecycle-contract.ts';
import { STATUS_OF_STAGE } from '../../src/members/member-status.ts';
import { MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';

export type Decision = { approved: true; message: ApproveMessage } | { approved: false; message: RejectMessage };

/** A refusal as the failure a sender of an Update receives: the code as its type, the field in its details. */
export function refusalFailure(refusal: Refusal): ApplicationFailure {
  return ApplicationFailure.nonRetryable(refusal.message, refusal.code, ...fieldDetails(refusal.field));
}

function enforce(refusal: Refusal | null): void {
  if (refusal) throw refusalFailure(refusal);
}

/**
 * The workflow's own record of where the lifecycle is and what it has been told. What it may
 * accept is decided by the same admission rules the member aggregate records events by.
 */
export class LifecycleState {
  stage: MemberStageName = 'Registered';
  history: LifecycleStatus['history'] = [{ stage: 'Registered', at: new Date().toISOString() }];
  invoice: LifecycleStatus['invoice'] = null;
  memberNumber: string | null = null;
  escalated = false;
  decision: Decision | undefined;
  payment: PaymentMessage | undefined;
  /** The payment as the activity recorded it, for the sender of the paymentReceived Update. */
  recordedPayment: RecordedPayment | undefined;
  withdrawal: WithdrawMessage | undefined;
  readonly #refusals: { payment: PaymentMessage; refusal: Refusal }[] = [];

  enter(stage: MemberStageName): void {
    const at = new Date();
    this.stage = stage;
    this.history.push({ stage, at: at.toISOString() });
    upsertSearchAttributes([
      { key: MemberStage, value: stage },
      { key: StageEnteredAt, value: at },
    ]);
    // The memo (party, ward, stage) set at start follows the stage, so an operator reading a row sees where it is.
    if (patched(MEMO_FOLLOWS_STAGE)) upsertMemo({ stage });
  }

  status(): LifecycleStatus {
    return { stage: this.stage, history: this.history, invoice: this.invoice, memberNumber: this.memberNumber, escalated: this.escalated };
  }

  /** Where the admission stands, counting the messages taken but not yet recorded. */
  position(): AdmissionPosition {
    return {
      status: STATUS_OF_STAGE[this.stage] ?? 'new',
      decided: this.decision !== undefined,
      approved: this.decision?.approved === true,
      withdrawing: this.withdrawal !== undefined,
      paid: this.payment !== undefined,
      invoice: this.invoice,
    };
  }

  /** @throws ApplicationFailure MEMBER_NOT_AWAITING_APPROVAL */
  checkDecision(): void {
    enforce(rules.decisionRefusal(this.position(), this.stage));
  }

  /**
   * A repeat of the accepted payment (same provider reference) is accepted again and changes
   * nothing; anything else must match the open invoice exactly.
   * @throws ApplicationFailure MEMBER_NOT_AWAITING_PAYMENT, INVOICE_ALREADY_PAID, INVOICE_MISMATCH,
   *   PAYMENT_AMOUNT_MISMATCH (with the field at fault), or the refusal the activity gave this payment before.
   */
  checkPayment(payment: PaymentMessage): 'new' | 'repeat' {
    if (this.payment && this.payment.provider === payment.provider && this.payment.providerRef === payment.providerRef) return 'repeat';
    enforce(this.refusalOf(payment) ?? null);
    enforce(rules.paymentRefusal(this.position(), payment, this.stage));
    return 'new';
  }

  /** The activity refused this payment: tell its sender, and wait for another. */
  refusePayment(payment: PaymentMessage, refusal: Refusal): void {
    this.#refusals.push({ payment, refusal });
    this.payment = undefined;
  }

  refusalOf(payment: PaymentMessage): Refusal | undefined {
    return this.#refusals.find((r) => r.payment.provider === payment.provider && r.payment.providerRef === payment.providerRef)?.refusal;
  }

  /** @throws ApplicationFailure MEMBER_CANNOT_WITHDRAW */
  checkWithdrawal(): void {
    enforce(rules.withdrawalRefusal(this.position(), this.stage));
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
