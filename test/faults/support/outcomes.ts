import { defaultPayloadConverter } from '@temporalio/common';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../../src/db/tenant-context.ts';
import { memberWorkflowId, type LifecycleStatus } from '../../../src/members/lifecycle-contract.ts';
import { recipientsOf } from '../../support/lifecycle-harness.ts';
import { inParallel, sleep } from './api-client.ts';
import type { FaultStack } from './fault-stack.ts';

/** Waits for every lifecycle's result, retrying while Temporal is unreachable. @returns the final stages. */
export async function awaitResults(stack: FaultStack, memberIds: readonly string[], timeoutMs = 600_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  return inParallel(memberIds, 20, async (memberId) => {
    const handle = stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, memberId));
    for (;;) {
      try {
        return ((await handle.result()) as LifecycleStatus).stage;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(1_000);
      }
    }
  });
}

const MemberOutcome = z.object({
  id: z.string(), status: z.string(), memberNumber: z.string().nullable(),
  invoices: z.number(), payments: z.number(), idCards: z.number(), events: z.number(), terms: z.number(), allocatedMinor: z.number(), paidMinor: z.number(),
  mails: z.record(z.string(), z.number()).nullable(),
});
export type MemberOutcome = z.infer<typeof MemberOutcome>;

/** Per member: status, number, and how many invoices, payments, cards, events, terms and recorded mails of each kind; dues allocated against paid. */
export async function memberOutcomes(stack: FaultStack): Promise<readonly MemberOutcome[]> {
  return withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, (tx) => tx.any(sql.type(MemberOutcome)`
    SELECT m.id, m.status, m.member_number AS "memberNumber",
      (SELECT count(*)::int FROM invoices i WHERE i.member_id = m.id) AS invoices,
      (SELECT count(*)::int FROM payments p WHERE p.member_id = m.id) AS payments,
      (SELECT count(*)::int FROM id_cards c WHERE c.member_id = m.id) AS "idCards",
      (SELECT count(*)::int FROM event_store e WHERE e.aggregate_id = m.id) AS events,
      (SELECT count(*)::int FROM member_terms t WHERE t.member_id = m.id) AS terms,
      (SELECT coalesce(sum(a.amount_minor), 0)::float8 FROM dues_allocations a WHERE a.member_id = m.id) AS "allocatedMinor",
      (SELECT coalesce(sum(p.amount_minor), 0)::float8 FROM payments p WHERE p.member_id = m.id) AS "paidMinor",
      (SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*)::int AS n FROM mail_deliveries d WHERE d.member_id = m.id GROUP BY kind) k) AS mails
    FROM members m ORDER BY m.registered_at`));
}

const SUBJECTS = { approved: 'has been approved', invoice: 'Membership fee invoice', activated: 'membership is active' } as const;
export type MailKind = keyof typeof SUBJECTS;

/**
 * Per recipient and kind: how many SMTP deliveries arrived, and how many distinct messages
 * (Message-IDs) they were. The Message-ID comes from the step's idempotency key, so a resend of
 * the same email (the worker died between the SMTP server's accept and recording the delivery)
 * arrives as a second delivery of the same message.
 */
export function mailCounts(stack: FaultStack): Map<string, Record<MailKind, { deliveries: number; messages: number }>> {
  const seen = new Map<string, Record<MailKind, { deliveries: number; ids: Set<string> }>>();
  for (const mail of stack.smtp.messages) {
    const kind = (Object.keys(SUBJECTS) as MailKind[]).find((k) => mail.subject?.includes(SUBJECTS[k]));
    if (!kind) continue;
    for (const to of recipientsOf(mail)) {
      if (!to) continue;
      const entry = seen.get(to) ?? { approved: { deliveries: 0, ids: new Set() }, invoice: { deliveries: 0, ids: new Set() }, activated: { deliveries: 0, ids: new Set() } };
      entry[kind].deliveries++;
      entry[kind].ids.add(mail.messageId ?? `(none ${entry[kind].deliveries})`);
      seen.set(to, entry);
    }
  }
  const counts = new Map<string, Record<MailKind, { deliveries: number; messages: number }>>();
  for (const [to, entry] of seen) {
    const of = (kind: MailKind) => ({ deliveries: entry[kind].deliveries, messages: entry[kind].ids.size });
    counts.set(to, { approved: of('approved'), invoice: of('invoice'), activated: of('activated') });
  }
  return counts;
}

/** Activity attempts beyond the first, and workflow tasks that timed out, across these lifecycles' histories. */
export async function retriesInHistories(stack: FaultStack, memberIds: readonly string[]): Promise<{ activityRetries: number; workflowTaskTimeouts: number }> {
  const totals = { activityRetries: 0, workflowTaskTimeouts: 0 };
  await inParallel(memberIds, 10, async (memberId) => {
    const history = await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, memberId)).fetchHistory();
    for (const event of history.events ?? []) {
      const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 1;
      if (attempt > 1) totals.activityRetries += attempt - 1;
      if (event.workflowTaskTimedOutEventAttributes) totals.workflowTaskTimeouts++;
    }
  });
  return totals;
}

/** Lifecycles whose last step (the activation email) is recorded; 0 while the database cannot answer. */
export async function completedCount(stack: FaultStack): Promise<number> {
  return withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, (tx) =>
    tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM mail_deliveries WHERE kind = 'activated'`)).catch(() => 0);
}

/** Why each retried email step of this lifecycle was retried: its attempt and the previous attempt's failure. */
export async function emailRetries(stack: FaultStack, memberId: string): Promise<{ attempt: number; previousFailure: string }[]> {
  const history = await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, memberId)).fetchHistory();
  const scheduled = new Map<number, string>();
  const retries: { attempt: number; previousFailure: string }[] = [];
  for (const event of history.events ?? []) {
    const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type) scheduled.set(Number(event.eventId), type);
    const started = event.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) > 1 && scheduled.get(Number(started.scheduledEventId)) === 'sendMemberEmail') {
      const failure = started.lastFailure;
      // Failure messages travel encoded and encrypted (src/temporal/failure-converter.ts): the stack's codec opens them.
      const message = failure?.encodedAttributes
        ? (defaultPayloadConverter.fromPayload<{ message?: string }>((await stack.codec.decode([failure.encodedAttributes]))[0]!)).message
        : failure?.message;
      retries.push({ attempt: started.attempt ?? 0, previousFailure: message ?? '(none recorded)' });
    }
  }
  return retries;
}
