import type { PaymentMessage, RecordedPayment } from '../../src/members/lifecycle-contract.ts';
import { activateIn } from './activation.ts';
import { recordApprovalIn } from './approval.ts';
import { inTenant, type MemberActivityDeps, type StepContext } from './deps.ts';
import { issueInvoiceIn, recordPaymentIn, type InvoiceDetails } from './payments.ts';

/** What the invoice of an approved application is: the party's admission fee, due within its payment window. */
export interface AdmissionFee {
  amountMinor: number;
  currency: string;
  paymentWindowMs: number;
}

/**
 * The admission's steps that no external call separates, each pair in ONE transaction (run by
 * lifecycles since LIFECYCLE_MERGED_STEPS): both halves keep their own step keys, so a retry
 * after the commit appends nothing and returns what was recorded, and a crash before it leaves
 * nothing half done.
 */
export function createAdmissionActivities(deps: MemberActivityDeps) {
  return {
    /** The head's approval and the invoice it leads to (recordApproval + issueInvoice). */
    async approveAndInvoice(step: StepContext, decision: { by: string; note: string | null }, fee: AdmissionFee): Promise<InvoiceDetails> {
      return inTenant(deps, step, async (tx) => {
        await recordApprovalIn(tx, step, decision.by, decision.note);
        return issueInvoiceIn(tx, deps, step, fee.amountMinor, fee.currency, fee.paymentWindowMs);
      });
    },

    /**
     * The payment and the activation it pays for (recordPayment + activateMember). A payment the
     * rules refuse fails non-retryably, as recordPayment does, and activates nothing.
     */
    async payAndActivate(step: StepContext, payment: PaymentMessage): Promise<{ payment: RecordedPayment; memberNumber: string }> {
      return inTenant(deps, step, async (tx) => {
        const recorded = await recordPaymentIn(tx, step, payment);
        const { memberNumber } = await activateIn(tx, deps, step);
        return { payment: recorded, memberNumber };
      });
    },
  };
}
