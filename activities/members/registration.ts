import { recordApplication } from '../../src/members/application-record.ts';
import type { RegistrationResult } from '../../src/members/lifecycle-contract.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import type { SealedApplication } from '../../src/members/sealed-application.ts';
import { voidOpenInvoices } from '../../src/payments/invoices.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

/** What the workflow needs to know about its tenant; read once at the start. */
export interface LifecycleSettings {
  tenantSlug: string;
  approvalReminderAfterMs: number;
  approvalEscalationAfterMs: number;
  paymentWindowMs: number;
  admissionFeeMinor: number;
  currency: string;
}

export type { ContactTaken, RegistrationResult } from '../../src/members/lifecycle-contract.ts';

/** The application: the tenant's settings for it, its record, and its withdrawal. */
export function createRegistrationActivities(deps: MemberActivityDeps) {
  return {
    async loadLifecycleSettings(step: StepContext): Promise<LifecycleSettings> {
      return inTenant(deps, step, async (tx) => {
        const tenant = await findTenant(tx, step.tenantId);
        if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
        return {
          tenantSlug: tenant.slug,
          approvalReminderAfterMs: tenant.approvalReminderAfterMs,
          approvalEscalationAfterMs: tenant.approvalEscalationAfterMs,
          paymentWindowMs: tenant.paymentWindowMs,
          admissionFeeMinor: tenant.feeSchedule.admissionFeeMinor,
          currency: tenant.feeSchedule.currency,
        };
      });
    },

    /** Records the application (src/members/application-record.ts) as its lifecycle's register step; a retry changes nothing. */
    async recordApplication(step: StepContext, application: SealedApplication): Promise<RegistrationResult> {
      const registeredAt = deps.clock().toISOString();
      return inTenant(deps, step, (tx) => recordApplication(tx, application, { workflowId: step.workflowId, registeredAt, command: stepCommand(step, 'register') }));
    },

    /** Records the withdrawal and voids an open invoice, if there is one. */
    async recordWithdrawal(step: StepContext, reason: string): Promise<void> {
      await inTenant(deps, step, async (tx) => {
        await voidOpenInvoices(tx, step.memberId);
        await executeMemberCommand(tx, stepCommand(step, 'withdraw'), { type: 'Withdraw', reason });
      });
    },
  };
}
