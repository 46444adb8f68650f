import { sql } from 'slonik';
import { z } from 'zod';
import { assignMemberNumber } from '../../src/members/member-number.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { appendTerm, dateIn, planTerm } from '../../src/terms/term-ledger.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { actorOf, inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

/**
 * Gives the member its number and makes it active, and records its first term, bought by the
 * admission payment, in `tx` (a TermStarted event and a member_terms row, keyed
 * `<workflow id>:term:1`); a retry keeps the number and the term it got.
 */
export async function activateIn(tx: TenantTransaction, deps: MemberActivityDeps, step: StepContext): Promise<{ memberNumber: string }> {
  const tenant = await findTenant(tx, step.tenantId);
  if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
  const now = deps.clock();
  const memberNumber = await assignMemberNumber(tx, step.memberId, tenant, now);
  await executeMemberCommand(tx, stepCommand(step, 'activate'), { type: 'Activate', memberNumber });
  const paymentId = await tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT p.id FROM payments p JOIN invoices i ON i.id = p.invoice_id
    WHERE p.member_id = ${step.memberId} AND i.purpose = 'admission' ORDER BY p.recorded_at LIMIT 1`);
  const purchase = {
    tenantId: step.tenantId, memberId: step.memberId, idempotencyKey: `${step.workflowId}:term:1`, paidOn: dateIn(tenant.timeZone, now),
    paymentId, waived: paymentId === null, source: 'admission' as const, recordedBy: actorOf(step),
  };
  const term = await planTerm(tx, tenant, purchase);
  await executeMemberCommand(
    tx,
    stepCommand(step, 'term:1'),
    { type: 'StartTerm', termId: term.id, termNumber: term.termNumber, from: term.startsOn, to: term.endsOn, paymentId, waived: purchase.waived },
    async () => { await appendTerm(tx, purchase, term); },
  );
  return { memberNumber };
}

export function createActivationActivities(deps: MemberActivityDeps) {
  return {
    /** activateIn, in a transaction of its own. */
    async activateMember(step: StepContext): Promise<{ memberNumber: string }> {
      return inTenant(deps, step, (tx) => activateIn(tx, deps, step));
    },
  };
}
