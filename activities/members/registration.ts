import { insertApplicant } from '../../src/members/member-repository.ts';
import { recordRefusal } from '../../src/members/registration-refusals.ts';
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

export interface RegistrationResult {
  geographyPath: string;
  committeeId: string | null;
  /** When the application was taken, recorded or not. */
  registeredAt?: string;
  /** Set when the phone or email already belongs to someone in the party: nothing was recorded for the member. */
  refusal?: ContactTaken;
}

/** Whose phone or email an application named. */
export interface ContactTaken {
  contact: 'phone' | 'email';
  holderId: string;
}

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

    /**
     * Writes the member row and MemberRegistered in one transaction; a retry changes nothing.
     * When the phone or email already belongs to someone in the party, records the refusal
     * instead, and says whose it is: the applicant is answered the same either way.
     */
    async recordApplication(step: StepContext, application: SealedApplication): Promise<RegistrationResult> {
      const registeredAt = deps.clock().toISOString();
      return inTenant(deps, step, async (tx) => {
        const row = await insertApplicant(tx, application, step.workflowId, registeredAt);
        const place = { geographyPath: row.geographyPath, committeeId: row.committeeId, registeredAt };
        if (row.outcome === 'taken') {
          await recordRefusal(tx, { application, workflowId: step.workflowId, contact: row.contact, holderId: row.holderId, committeeId: row.committeeId, refusedAt: registeredAt });
          return { ...place, refusal: { contact: row.contact, holderId: row.holderId } };
        }
        await executeMemberCommand(
          tx,
          stepCommand(step, 'register'),
          { type: 'Register', wardId: application.wardId, committeeId: row.committeeId, geographyPath: row.geographyPath },
        );
        return place;
      });
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
