import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../../src/db/tenant-context.ts';
import { call, errorCode, sleep, type Answer, type CallOptions } from './api-client.ts';
import type { FaultStack } from './fault-stack.ts';
import { ELIGIBLE } from '../../support/eligibility.ts';

/** One applicant; phone and email are unique per index. The email is given mixed-case on purpose. */
export interface Applicant {
  index: number;
  phoneNational: string;
  email: string;
  memberId?: string;
}

export const applicant = (index: number, series = 1): Applicant => ({
  index, phoneNational: `98${String(40_000_000 + series * 100_000 + index)}`, email: `Member.${series}-${index}@Example.NP`,
});

/** What the driver saw on the way: HTTP answers it had to retry, by status (0: no answer). */
export const retriedAnswers = new Map<number, number>();

const TRANSIENT = (a: Answer) => a.status === 0 || a.status >= 500 || a.status === 429;

let abandoned = false;
/** Ends every retry loop (after a test failed, so nothing keeps calling a stack being torn down). */
export function abandonDriving(): void {
  abandoned = true;
}

/** Calls until `done` accepts the answer; transient failures (no answer, 5xx, 429) are retried every second. */
async function until(stack: FaultStack, what: string, method: string, path: string, options: CallOptions,
  done: (a: Answer, attempt: number) => boolean | Promise<boolean>, deadlineMs = 600_000): Promise<Answer> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    const answer = await call(stack.apiUrl, method, path, { timeoutMs: 240_000, ...options });
    if (await done(answer, attempt)) return answer;
    if (!TRANSIENT(answer) || Date.now() > deadline || abandoned) {
      throw new Error(`${what}: ${answer.status} ${answer.error ?? JSON.stringify(answer.body)}`);
    }
    retriedAnswers.set(answer.status, (retriedAnswers.get(answer.status) ?? 0) + 1);
    await sleep(1_000);
  }
}

/** Asks `probe` every 500 ms until it answers, the time is up or driving was abandoned. @returns its answer, or undefined. */
async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) return answer;
    if (Date.now() > deadline || abandoned) return undefined;
    await sleep(500);
  }
}

const Invoice = z.object({ id: z.string(), amount: z.coerce.number(), currency: z.string() });

/** The member's invoice, once the lifecycle has issued it (the database may be down meanwhile). */
export async function awaitInvoice(stack: FaultStack, memberId: string, timeoutMs = 600_000): Promise<z.infer<typeof Invoice>> {
  const invoice = await poll(async () => (await withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, (tx) =>
    tx.maybeOne(sql.type(Invoice)`SELECT id, amount_minor AS amount, currency FROM invoices WHERE member_id = ${memberId}`)).catch(() => null)) ?? undefined, timeoutMs);
  if (!invoice) throw new Error(`no invoice for ${memberId}`);
  return invoice;
}

/** Applies through the public API (as its own client address), under an Idempotency-Key: a retry gets the same member. */
export async function register(stack: FaultStack, a: Applicant): Promise<string> {
  const { party } = stack;
  const body = { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: `Applicant ${a.index}`, gender: 'F', phone: a.phoneNational, email: a.email, wardId: party.geo.wardIds[1] } } };
  const headers = { 'x-forwarded-for': `127.1.${a.index >> 8}.${a.index & 255}`, 'idempotency-key': `${party.tenant.id}-applicant-${a.phoneNational}` };
  const answer = await until(stack, `register ${a.index}`, 'POST', `/api/parties/${party.tenant.slug}/applications`, { body, headers }, (r) => r.status === 201);
  return (a.memberId = answer.body.data.id as string);
}

/**
 * Waits until the member's row no longer says awaiting approval: the lifecycle took a decision
 * (its update was accepted) but records it only when a worker runs its next activity, which
 * after a kill can be seconds later. @returns false if that did not happen within `timeoutMs`.
 */
async function decisionRecorded(stack: FaultStack, memberId: string, timeoutMs = 600_000): Promise<boolean> {
  const recorded = await poll(async () => {
    const answer = await call(stack.apiUrl, 'GET', `/api/members/${memberId}`, { token: stack.party.headToken });
    const status = answer.status === 200 ? answer.body?.data?.attributes?.statusDetail : undefined;
    return status !== undefined && status !== 'awaiting_approval' ? true : undefined;
  }, timeoutMs);
  return recorded ?? false;
}

/**
 * Approves as the committee head. A retry told "not awaiting approval" means an earlier try
 * reached the lifecycle (its answer was lost to a kill or an outage): it then waits for that
 * approval to be recorded in the database.
 */
export async function approve(stack: FaultStack, memberId: string): Promise<void> {
  const { headToken } = stack.party;
  await until(stack, `approve ${memberId}`, 'POST', `/api/members/${memberId}/approve`, { token: headToken, body: { data: { type: 'approvals', attributes: {} } } },
    async (r, attempt) => r.status === 200 || (attempt > 1 && errorCode(r) === 'MEMBER_NOT_AWAITING_APPROVAL' && await decisionRecorded(stack, memberId)));
}

/**
 * Pays the member's invoice as the treasurer; the same receipt again answers 200 with the recorded
 * payment. The invoice row can exist before the lifecycle has taken in that it was issued (its
 * worker died after the commit): the API then answers 409 "is Approved", and the treasurer tries again.
 */
export async function pay(stack: FaultStack, memberId: string, reference: string): Promise<void> {
  const invoice = await awaitInvoice(stack, memberId);
  const attributes = { invoiceId: invoice.id, amount: invoice.amount, currency: invoice.currency, reference, paidAt: new Date().toISOString() };
  const notYet = (r: Answer) => errorCode(r) === 'MEMBER_NOT_AWAITING_PAYMENT' && JSON.stringify(r.body).includes('is Approved');
  for (;;) {
    const answer = await until(stack, `pay ${memberId}`, 'POST', `/api/members/${memberId}/payments`, { token: stack.party.treasurerToken, body: { data: { type: 'payments', attributes } } },
      (r) => r.status === 201 || r.status === 200 || (notYet(r) && !abandoned));
    if (!notYet(answer)) return;
    retriedAnswers.set(409, (retriedAnswers.get(409) ?? 0) + 1);
    await sleep(1_000);
  }
}

/** Register, approve, pay: one whole lifecycle driven through the API. */
export async function driveToPayment(stack: FaultStack, a: Applicant): Promise<string> {
  const memberId = await register(stack, a);
  await approve(stack, memberId);
  await pay(stack, memberId, `rcpt-${a.index}`);
  return memberId;
}
