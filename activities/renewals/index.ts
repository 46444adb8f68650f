import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { revokeCardOnLeaving, revokeCurrentCard } from '../../src/cards/card-revocation.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import type { PaymentMessage, RecordedPayment } from '../../src/members/lifecycle-contract.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { recordStatusFields } from '../../src/members/status-change-store.ts';
import { issueInvoiceOnce, voidInvoice, type InvoiceDetails } from '../../src/payments/invoices.ts';
import { findPayment, insertPayment } from '../../src/payments/payments.ts';
import * as r from '../../src/renewals/renewal-contract.ts';
import { dueRenewals, recordRenewalOutcome, renewalOutcomeOf, recordRenewalRun, recordRenewalStarted, renewalDates, type DueCursor } from '../../src/renewals/renewals.ts';
import { startRenewal } from '../../src/renewals/renewal-client.ts';
import { addDays } from '../../src/terms/standing.ts';
import { appendTerm, dateIn, planTerm } from '../../src/terms/term-ledger.ts';
import { findTenant, listTenants, type Tenant } from '../../src/tenants/tenants.ts';
import { actorOf, inTenant, stepCommand, type MemberActivityDeps, type StepContext } from '../members/deps.ts';

/** An open renewal, as its first step left it. */
export type OpenedRenewal =
  | { due: false; reason: string }
  | {
    due: true;
    invoice: InvoiceDetails;
    paidUntil: string;
    graceUntil: string;
    reinstatableUntil: string;
    /** From the activity's clock to the lapse and to the end of the reinstatement window (the workflow's timers start from these). */
    lapsesInMs: number;
    closesInMs: number;
  };

export interface RenewalPayment extends RecordedPayment {
  /** The member's status after it (active, or still suspended), and whether they were reinstated. */
  status: string;
  reinstated: boolean;
  /** The new paid-until date (the first day no term covers). */
  paidUntil: string;
  /** The last day the member's terms cover: the new card is valid through it. */
  paidThrough: string;
  memberNumber: string | null;
}

/** Pages of this many due members: one query and this many workflow starts each. */
export const RUN_PAGE = 500;
/** Workflow starts in flight at once. */
export const START_CONCURRENCY = 32;

async function tenantOf(tx: Parameters<Parameters<typeof withTenant>[2]>[0], tenantId: string): Promise<Tenant> {
  const tenant = await findTenant(tx, tenantId);
  if (!tenant) throw new Error(`tenant ${tenantId} not found`);
  return tenant;
}

/**
 * The renewal workflow's steps (workflows/renewals/member-renewal.ts). Each runs in one tenant
 * transaction whose actor is the workflow: the member command (keyed `<workflow id>:<step>`, so
 * a retry writes nothing twice), the rows it stands for, and the member_renewals row. The daily
 * run starts renewal workflows with `temporalClient`.
 */
export function createRenewalActivities(deps: MemberActivityDeps, temporalClient?: Client) {
  return {
    /**
     * Issues the renewal invoice for the term after `termNumber`, due on paid-until, and records
     * the renewal as started. Not due (nothing issued) when a later term exists already or the
     * member has left.
     */
    async openRenewal(step: StepContext, input: { termNumber: number; startedBy: string }): Promise<OpenedRenewal> {
      return inTenant(deps, step, async (tx) => {
        const tenant = await tenantOf(tx, step.tenantId);
        const now = deps.clock();
        const dates = await renewalDates(tx, tenant, step.memberId, now);
        const row = { ...step, termNumber: input.termNumber, startedBy: input.startedBy, paidUntil: dates ? dates.standing.paidUntil! : dateIn(tenant.timeZone, now) };
        const notDue = async (reason: string): Promise<OpenedRenewal> => {
          await recordRenewalStarted(tx, row, null);
          await recordRenewalOutcome(tx, step.workflowId, 'not_due');
          return { due: false, reason };
        };
        if (!dates) return notDue('the member has no term');
        if (dates.lastTerm.termNumber !== input.termNumber) return notDue(`term ${input.termNumber} is not the member's last (term ${dates.lastTerm.termNumber})`);
        const invoice = await issueInvoiceOnce(tx, {
          tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: `${step.workflowId}:invoice`,
          amountMinor: tenant.renewalFeeMinor, currency: tenant.feeSchedule.currency, dueAt: dates.dueAt,
          renewal: { termNumber: input.termNumber, workflowId: step.workflowId },
        });
        try {
          await executeMemberCommand(tx, stepCommand(step, 'renewal-invoice'), { type: 'IssueRenewalInvoice', ...invoice, termNumber: input.termNumber });
        } catch (err) {
          // A member who left (or is not yet admitted) has nothing to renew.
          if (err instanceof MemberRuleError && err.code === 'MEMBER_NOT_ACTIVE') {
            await voidInvoice(tx, invoice.invoiceId);
            return notDue(err.message);
          }
          throw err;
        }
        await recordRenewalStarted(tx, row, invoice.invoiceId);
        return {
          due: true, invoice,
          paidUntil: dates.standing.paidUntil!, graceUntil: dates.standing.graceUntil!, reinstatableUntil: dates.standing.reinstatableUntil!,
          lapsesInMs: Date.parse(dates.lapsesAt) - now.getTime(), closesInMs: Date.parse(dates.closesAt) - now.getTime(),
        };
      });
    },

    /**
     * Records the renewal payment once, in one transaction: the payment (its dues split by the
     * payments trigger), the next term in the ledger (extending from paid-until when paid early,
     * else from the day paid), the reinstatement of a lapsed member with the same number, and
     * the revocation of the card that names the old date (a new one is issued next). The same
     * provider reference again for this invoice is a retry and finds the recorded payment.
     * @throws DUPLICATE_PAYMENT_REFERENCE, and the renewal rules' refusals (INVOICE_MISMATCH,
     *   PAYMENT_AMOUNT_MISMATCH naming the field, MEMBER_NOT_ACTIVE).
     */
    async recordRenewalPayment(step: StepContext, payment: PaymentMessage): Promise<RenewalPayment> {
      return inTenant(deps, step, async (tx) => {
        const existing = await findPayment(tx, payment.provider, payment.providerRef);
        if (existing && (existing.memberId !== step.memberId || existing.invoiceId !== payment.invoiceId)) {
          throw new MemberRuleError('DUPLICATE_PAYMENT_REFERENCE', `${payment.provider} reference ${payment.providerRef} already paid another invoice`, { field: 'reference' });
        }
        const tenant = await tenantOf(tx, step.tenantId);
        const actor = actorOf(step);
        const paymentId = existing?.id ?? randomUUID();
        let recordedAt = existing ? new Date(existing.recordedAt).toISOString() : '';
        const { invoiceId, amount, currency, provider, providerRef, paidAt } = payment;
        const paid = await executeMemberCommand(
          tx, stepCommand(step, `renewal-payment:${provider}:${providerRef}`),
          { type: 'RecordRenewalPayment', paymentId, invoiceId, amountMinor: amount, currency, provider, providerRef, paidAt },
          async () => {
            ({ recordedAt } = await insertPayment(tx, { ...payment, paymentId, tenantId: step.tenantId, memberId: step.memberId, recordedBy: actor }));
          },
        );
        if (!paid.applied) {
          // A retry of a transaction that committed: everything below was written with it.
          const dates = await renewalDates(tx, tenant, step.memberId, deps.clock());
          const paidUntil = dates!.standing.paidUntil!;
          return { paymentId, recordedAt, status: paid.state.status, reinstated: (await renewalOutcomeOf(tx, step.workflowId)) === 'reinstated',
            paidUntil, paidThrough: addDays(paidUntil, -1), memberNumber: paid.state.memberNumber };
        }
        const lapsed = paid.state.status === 'lapsed';
        const term = await planTerm(tx, tenant, { memberId: step.memberId, paidOn: dateIn(tenant.timeZone, deps.clock()) });
        const purchase = {
          tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: `${step.workflowId}:term`, paidOn: term.startsOn,
          paymentId, waived: false, source: 'renewal' as const, recordedBy: actor,
        };
        if (lapsed) {
          await executeMemberCommand(tx, stepCommand(step, 'reinstate'), { type: 'Reinstate', termNumber: term.termNumber, paymentId },
            () => recordStatusFields(tx, step.memberId, { reason: null, note: null, until: null }));
        }
        const started = await executeMemberCommand(tx, stepCommand(step, 'term'),
          { type: 'StartTerm', termId: term.id, termNumber: term.termNumber, from: term.startsOn, to: term.endsOn, paymentId, waived: false },
          async () => { await appendTerm(tx, purchase, term); });
        // The card naming the old date gives way to one valid to the new paid-until (a suspended member holds none).
        if (started.state.status === 'active') await revokeCurrentCard(tx, step.tenantId, step.memberId, 'superseded', actor, step.workflowId);
        await recordRenewalOutcome(tx, step.workflowId, lapsed ? 'reinstated' : 'renewed');
        // The new term starts on or after the old paid-until: its end is the member's paid-until now.
        const paidUntil = term.endsOn;
        return { paymentId, recordedAt, status: started.state.status, reinstated: lapsed, paidUntil, paidThrough: addDays(paidUntil, -1), memberNumber: started.state.memberNumber };
      });
    },

    /**
     * Lapses the member whose grace period ended unpaid: status lapsed (statistics move with
     * the row), the card revoked with the reason `lapsed`. The renewal invoice stays open for
     * the reinstatement window. A member whose ledger shows them paid meanwhile is not lapsed.
     * @returns false when nothing was lapsed.
     * @throws MEMBER_NOT_ACTIVE when the member has left.
     */
    async lapseMembership(step: StepContext): Promise<boolean> {
      return inTenant(deps, step, async (tx) => {
        const tenant = await tenantOf(tx, step.tenantId);
        const dates = await renewalDates(tx, tenant, step.memberId, deps.clock());
        if (!dates || dates.standing.inGoodStanding) return false;
        const actor = actorOf(step);
        await executeMemberCommand(tx, stepCommand(step, 'lapse'),
          { type: 'LapseTerm', termNumber: dates.lastTerm.termNumber, paidUntil: dates.standing.paidUntil!, graceUntil: dates.standing.graceUntil! },
          () => recordStatusFields(tx, step.memberId, { reason: 'dues_unpaid', note: null, until: null }));
        await revokeCardOnLeaving(tx, step.tenantId, step.memberId, actor, 'lapsed');
        await recordRenewalOutcome(tx, step.workflowId, 'lapsed');
        return true;
      });
    },

    /** The reinstatement window closed unpaid (or the member left): the renewal invoice is voided and the renewal closed. */
    async closeRenewal(step: StepContext, invoiceId: string): Promise<void> {
      await inTenant(deps, step, async (tx) => {
        try {
          await executeMemberCommand(tx, stepCommand(step, 'close'), { type: 'CloseRenewal' }, () => voidInvoice(tx, invoiceId));
        } catch (err) {
          // Nothing open any more (paid through another path, or voided): the invoice is voided if still open all the same.
          if (!(err instanceof MemberRuleError && err.code === 'RENEWAL_NOT_OPEN')) throw err;
          await voidInvoice(tx, invoiceId);
        }
        await recordRenewalOutcome(tx, step.workflowId, 'closed');
      });
    },

    /**
     * The daily run: for every party, starts a renewal workflow for each member due today (in
     * the party's zone) and not yet started, page by page. A workflow id already taken (an
     * earlier run that stopped half way, or staff) is counted, not started again. Heartbeats
     * its place, so a retried attempt goes on from the party it had reached.
     */
    async startDueRenewals(): Promise<r.RenewalRunReport> {
      const client = temporalClient;
      if (!client) throw new Error('the renewal run needs a Temporal client in the worker');
      const temporal: Client = client;
      const context = Context.current();
      const resumeFrom = (context.info.heartbeatDetails as { partyIndex: number } | undefined)?.partyIndex ?? 0;
      const report: r.RenewalRunReport = { parties: 0, due: 0, started: 0, alreadyStarted: 0 };
      try {
        const parties = await listTenants(deps.pool);
        report.parties = parties.length;
        for (const [index, party] of parties.entries()) {
          if (index < resumeFrom) continue;
          const counts = await runParty(party.id, () => context.heartbeat({ partyIndex: index }));
          report.due += counts.due;
          report.started += counts.started;
          report.alreadyStarted += counts.alreadyStarted;
          context.heartbeat({ partyIndex: index + 1 });
        }
        return report;
      } catch (err) {
        throw toActivityFailure(err);
      }

      async function runParty(tenantId: string, beat: () => void): Promise<{ due: number; started: number; alreadyStarted: number }> {
        const startedAt = deps.clock();
        const step = { tenantId, memberId: tenantId, workflowId: 'renewal-run' };
        const counts = { due: 0, started: 0, alreadyStarted: 0 };
        let after: DueCursor | null = null;
        let runOn = '';
        for (;;) {
          const { page, today } = await withTenant(deps.pool, { tenantId, actor: 'system:renewal-run' }, async (tx) => {
            const tenant = await tenantOf(tx, tenantId);
            const today = dateIn(tenant.timeZone, deps.clock());
            return { today, page: await dueRenewals(tx, tenant, today, after, RUN_PAGE) };
          });
          runOn = today;
          if (page.length === 0) break;
          counts.due += page.length;
          for (let i = 0; i < page.length; i += START_CONCURRENCY) {
            const results = await Promise.all(page.slice(i, i + START_CONCURRENCY).map((due) => startRenewal(temporal, tenantId, due.memberId, due.termNumber, 'schedule')));
            for (const started of results) counts[started ? 'started' : 'alreadyStarted'] += 1;
            beat();
          }
          const last = page.at(-1)!;
          after = { endsOn: last.endsOn, memberId: last.memberId };
        }
        await inTenant(deps, step, (tx) => recordRenewalRun(tx, tenantId, { runOn, startedAt, finishedAt: deps.clock(), ...counts }));
        return counts;
      }
    },
  };
}

export type RenewalActivities = ReturnType<typeof createRenewalActivities>;
