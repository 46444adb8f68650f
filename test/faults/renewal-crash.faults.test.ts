import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { createMemberActivities } from '../../activities/members/index.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { importMembers } from '../../src/imports/member-import.ts';
import { createLogger } from '../../src/logger.ts';
import { createSmtpMailer, senderDomain } from '../../src/mail/mailer.ts';
import * as r from '../../src/renewals/renewal-contract.ts';
import { LocalDirectoryStorage } from '../../src/storage/local-storage.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import { recipientsOf } from '../support/lifecycle-harness.ts';
import { call, errorCode, inParallel, sleep, type Answer } from './support/api-client.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';

/**
 * The daily renewal run under a worker that is SIGKILLed again and again: imported members whose
 * renewal is due, every renewal invoice paid through the API as soon as it appears, and the
 * worker killed while the renewals open, the payments are recorded and the cards issued.
 * Afterwards everything happened once per member.
 */
const MEMBERS = 100;
const KILLS = 8;
/** An awkward fee: 10001 paisa does not divide by the dues shares. */
const RENEWAL_FEE = 10_001;

let stack: FaultStack;
let abandoned = false;
beforeAll(async () => {
  stack = await startFaultStack('renewal-crash');
  await changeTenantSettings(stack.db.owner, stack.party.tenant.slug, { renewalFeeMinor: RENEWAL_FEE }, 'test');
}, 120_000);
afterAll(async () => {
  abandoned = true;
  await stack?.close();
});

const asTest = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, work);

/**
 * Imports MEMBERS members registered a year ago less ten days: their first term (import day to
 * the anniversary of registration) ends in ten days, within the 30 days' notice, so all are due
 * today. Half of them are then given a card, as a member who had one would hold it.
 */
async function importDueMembers(): Promise<{ memberId: string; email: string; hadCard: boolean }[]> {
  const today = dateIn(stack.party.tenant.timeZone, new Date());
  const registered = addDays(today, -355);
  const rows = Array.from({ length: MEMBERS }, (_, i) => [`Renewing Member ${i}`, i % 2 ? 'F' : 'M', `98${String(46_000_000 + i)}`, `renewer.${i}@example.np`, 'LF1_W2', registered].join(','));
  const file = path.join(stack.dir, 'renewing-members.csv');
  await writeFile(file, ['full_name_en,gender,phone,email,ward_code,registered_at', ...rows].join('\n'));
  const outcome = await importMembers(stack.db.app, stack.party.keyring, { file, tenant: stack.party.tenant, actor: 'test', batchSize: 50, skipInvalid: false, now: new Date() },
    { validated: () => undefined, loading: () => undefined, batchCommitted: () => undefined });
  expect(outcome).toMatchObject({ kind: 'imported', imported: MEMBERS });
  const members = await asTest((tx) => tx.any(sql.type(z.object({ memberId: z.string(), endsOn: z.string() }))`
    SELECT m.id AS "memberId", to_char(t.ends_on, 'YYYY-MM-DD') AS "endsOn" FROM members m JOIN member_terms t ON t.member_id = m.id ORDER BY m.member_number`));
  expect(members.every((m) => m.endsOn > today && m.endsOn <= addDays(today, 30))).toBe(true);

  const FROM = 'Party <members@party.test>';
  const mailer = createSmtpMailer({ smtpUrl: stack.smtp.url, from: FROM, timeoutMs: 5_000 });
  const steps = createMemberActivities({
    pool: stack.db.app, keyring: stack.party.keyring, mailer, storage: new LocalDirectoryStorage(path.join(stack.dir, 'storage')),
    clock: () => new Date(), log: createLogger('renewal-crash', 'silent'), mailDomain: senderDomain(FROM),
  });
  try {
    await inParallel(members.filter((_, i) => i % 2 === 0), 4, (m) => steps.issueIdCard({ tenantId: stack.party.tenant.id, memberId: m.memberId, workflowId: `seed-card-${m.memberId}` }));
  } finally {
    mailer.close();
  }
  return members.map((m, i) => ({ memberId: m.memberId, email: `renewer.${i}@example.np`, hadCard: i % 2 === 0 }));
}

/**
 * Triggers the `membership-renewals` Schedule (the worker creates it) and waits for the run it
 * started. @returns the run's report.
 */
async function triggerRenewalRun(): Promise<r.RenewalRunReport> {
  const schedule = stack.client.schedule.getHandle(r.RENEWAL_SCHEDULE_ID);
  const before = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  for (let i = 0; i < 120; i++) {
    const actions = (await schedule.describe()).info.recentActions;
    const action = actions.length > before ? actions.at(-1) : undefined;
    if (action) {
      const { workflowId, firstExecutionRunId } = action.action.workflow;
      return (await stack.client.workflow.getHandle(workflowId, firstExecutionRunId).result()) as r.RenewalRunReport;
    }
    await sleep(500);
  }
  throw new Error('the renewal Schedule started no run');
}

const OpenInvoice = z.object({ memberId: z.string(), invoiceId: z.string(), amount: z.number(), currency: z.string() });

/** Renewal invoices issued so far, while the database can answer. */
const renewalInvoices = () => asTest((tx) => tx.any(sql.type(OpenInvoice)`
  SELECT member_id AS "memberId", id AS "invoiceId", amount_minor::float8 AS amount, currency FROM invoices WHERE purpose = 'renewal'`)).catch(() => []);

/** No answer, or an outage said as one (503, with Retry-After): a dead worker is never an internal error (500). */
const TRANSIENT = (a: Answer) => a.status === 0 || a.status === 503 || a.status === 429;
/** What the payer saw on the way: answers it retried, by status and code. */
const retried = new Map<string, number>();

/** Pays one renewal invoice as the treasurer, through the manual payment endpoint, retrying what a dead worker leaves unanswered; any other answer is final. */
async function payRenewal(invoice: z.infer<typeof OpenInvoice>, index: number): Promise<Answer> {
  const attributes = { invoiceId: invoice.invoiceId, amount: invoice.amount, currency: invoice.currency, reference: `renewal-rcpt-${index}`, paidAt: new Date().toISOString() };
  const deadline = Date.now() + 600_000;
  for (;;) {
    const answer = await call(stack.apiUrl, 'POST', `/api/members/${invoice.memberId}/payments`,
      { token: stack.party.treasurerToken, body: { data: { type: 'payments', attributes } }, timeoutMs: 240_000 });
    if (answer.status === 201 || answer.status === 200) return answer;
    if (!TRANSIENT(answer) || Date.now() > deadline || abandoned) return answer;
    const key = `${answer.status}${errorCode(answer) ? ` ${errorCode(answer)}` : ''}`;
    retried.set(key, (retried.get(key) ?? 0) + 1);
    await sleep(1_000);
  }
}

/** Pays every renewal invoice as soon as it appears, until all MEMBERS are paid. @returns the final answers. */
async function payEveryRenewal(): Promise<Answer[]> {
  const paying = new Map<string, Promise<Answer>>();
  const deadline = Date.now() + 600_000;
  while (paying.size < MEMBERS && Date.now() < deadline && !abandoned) {
    for (const invoice of await renewalInvoices()) {
      if (!paying.has(invoice.invoiceId)) paying.set(invoice.invoiceId, payRenewal(invoice, paying.size));
    }
    await sleep(250);
  }
  return Promise.all(paying.values());
}

async function killWorkerRepeatedly(count: number, paidSoFar: () => Promise<number>): Promise<{ afterReadyMs: number; paidSoFar: number; killedAt: number }[]> {
  const kills: { afterReadyMs: number; paidSoFar: number; killedAt: number }[] = [];
  while (kills.length < count) {
    const afterReadyMs = 500 + Math.floor(Math.random() * 2_000);
    await sleep(afterReadyMs);
    const killedAt = Date.now();
    await stack.worker.kill('SIGKILL');
    kills.push({ afterReadyMs, paidSoFar: await paidSoFar(), killedAt });
    await stack.worker.start(WORKER_READY);
  }
  return kills;
}

const Outcome = z.object({
  memberId: z.string(), status: z.string(), renewalInvoices: z.number(), renewalPayments: z.number(), renewals: z.number(), outcome: z.string().nullable(),
  terms: z.array(z.object({ n: z.number(), startsOn: z.string(), endsOn: z.string(), source: z.string(), paid: z.boolean() })),
  cards: z.array(z.object({ validUntil: z.string(), revocationReason: z.string().nullable(), byRenewal: z.boolean() })),
  allocatedMinor: z.number(), paidMinor: z.number(), mails: z.record(z.string(), z.number()).nullable(),
});

const outcomes = () => asTest((tx) => tx.any(sql.type(Outcome)`
  SELECT m.id AS "memberId", m.status::text AS status,
    (SELECT count(*)::int FROM invoices i WHERE i.member_id = m.id AND i.purpose = 'renewal') AS "renewalInvoices",
    (SELECT count(*)::int FROM payments p JOIN invoices i ON i.id = p.invoice_id WHERE p.member_id = m.id AND i.purpose = 'renewal') AS "renewalPayments",
    (SELECT count(*)::int FROM member_renewals mr WHERE mr.member_id = m.id) AS renewals,
    (SELECT mr.outcome FROM member_renewals mr WHERE mr.member_id = m.id AND mr.term_number = 1) AS outcome,
    (SELECT jsonb_agg(jsonb_build_object('n', t.term_number, 'startsOn', to_char(t.starts_on, 'YYYY-MM-DD'), 'endsOn', to_char(t.ends_on, 'YYYY-MM-DD'),
                                         'source', t.source, 'paid', t.payment_id IS NOT NULL) ORDER BY t.term_number) FROM member_terms t WHERE t.member_id = m.id) AS terms,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('validUntil', to_char(c.valid_until, 'YYYY-MM-DD'), 'revocationReason', c.revocation_reason,
                                                  'byRenewal', c.issued_at > mr.started_at) ORDER BY c.issued_at), '[]'::jsonb)
       FROM id_cards c, member_renewals mr WHERE c.member_id = m.id AND mr.member_id = m.id AND mr.term_number = 1) AS cards,
    (SELECT coalesce(sum(a.amount_minor), 0)::float8 FROM dues_allocations a WHERE a.member_id = m.id) AS "allocatedMinor",
    (SELECT coalesce(sum(p.amount_minor), 0)::float8 FROM payments p WHERE p.member_id = m.id) AS "paidMinor",
    (SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*)::int AS n FROM mail_deliveries d WHERE d.member_id = m.id GROUP BY kind) k) AS mails
  FROM members m ORDER BY m.member_number`));

/** Renewal workflows per member, from Temporal's own visibility (every run of every id). */
async function renewalWorkflowsPerMember(): Promise<Map<string, number>> {
  const perMember = new Map<string, number>();
  const prefix = `renewal-${stack.party.tenant.id}-`;
  for await (const execution of stack.client.workflow.list({ query: `WorkflowType = '${r.MEMBER_RENEWAL_WORKFLOW}'` })) {
    const memberId = execution.workflowId.startsWith(prefix) ? execution.workflowId.slice(prefix.length, prefix.length + 36) : `other:${execution.workflowId}`;
    perMember.set(memberId, (perMember.get(memberId) ?? 0) + 1);
  }
  return perMember;
}

/** Per recipient: renewal-invoice and renewed deliveries over SMTP, and distinct messages (Message-IDs) among them. */
interface KindMails { deliveries: number; messages: Set<string>; acceptedAt: number[] }

function renewalMails(): Map<string, { invoice: KindMails; renewed: KindMails }> {
  const seen = new Map<string, { invoice: KindMails; renewed: KindMails }>();
  for (const [index, mail] of stack.smtp.messages.entries()) {
    const kind = mail.subject?.startsWith('Membership renewal invoice') ? 'invoice' : mail.subject?.endsWith('is renewed') ? 'renewed' : undefined;
    if (!kind) continue;
    for (const to of recipientsOf(mail)) {
      if (!to) continue;
      const entry = seen.get(to) ?? { invoice: { deliveries: 0, messages: new Set<string>(), acceptedAt: [] }, renewed: { deliveries: 0, messages: new Set<string>(), acceptedAt: [] } };
      entry[kind].deliveries++;
      entry[kind].acceptedAt.push(stack.smtp.acceptedAt[index]!);
      entry[kind].messages.add(mail.messageId ?? `(none ${entry[kind].deliveries})`);
      seen.set(to, entry);
    }
  }
  return seen;
}

const apiErrorsLogged = () => stack.api.output.filter((line) => /"level":(50|60)/.test(line)).map((line) => line.slice(0, 1500));

test(`${MEMBERS} renewals opened and paid while the worker is SIGKILLed ${KILLS} times: one invoice, payment, term, card and email each`, async () => {
  const started = Date.now();
  const members = await importDueMembers();
  const importedMs = Date.now() - started;

  const run = await triggerRenewalRun();
  expect(run).toMatchObject({ due: MEMBERS, started: MEMBERS, alreadyStarted: 0 });
  const runMs = Date.now() - started;

  const paying = payEveryRenewal();
  const paidSoFar = () => asTest((tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM member_renewals WHERE outcome = 'renewed'`)).catch(() => -1);
  const kills = await killWorkerRepeatedly(KILLS, paidSoFar);
  const answers = await paying;
  const paidMs = Date.now() - started;
  const unexpected = answers.filter((a) => a.status !== 201 && a.status !== 200).map((a) => ({ status: a.status, body: a.body as unknown }));
  if (unexpected.length > 0) console.error(`renewal crash faults, the API's logged errors: ${apiErrorsLogged().join('\n')}`);
  expect(unexpected).toEqual([]);

  const results = await inParallel(members, 20, async (m) => {
    const handle = stack.client.workflow.getHandle(r.renewalWorkflowId(stack.party.tenant.id, m.memberId, 1));
    for (;;) {
      try {
        return (await handle.result()) as { outcome: r.RenewalOutcome };
      } catch (err) {
        if (Date.now() - started > 900_000) throw err;
        await sleep(1_000);
      }
    }
  });
  const renewedMs = Date.now() - started;
  expect(results.filter((x) => x.outcome !== 'renewed')).toEqual([]);

  const rows = await outcomes();
  expect(rows).toHaveLength(MEMBERS);
  const firstTerms = new Map(rows.map((m) => [m.memberId, m.terms[0]!]));
  const wrong = rows.filter((m) => {
    const [first, second] = m.terms;
    const current = m.cards.filter((c) => c.revocationReason === null);
    const hadCard = members.find((x) => x.memberId === m.memberId)!.hadCard;
    return m.status !== 'active' || m.renewalInvoices !== 1 || m.renewalPayments !== 1 || m.renewals !== 1 || m.outcome !== 'renewed'
      || m.terms.length !== 2 || first?.source !== 'import' || second?.source !== 'renewal' || !second.paid || second.startsOn !== first.endsOn
      || current.length !== 1 || !current[0]!.byRenewal || current[0]!.validUntil !== addDays(second.endsOn, -1)
      || m.cards.length !== (hadCard ? 2 : 1) || (hadCard && m.cards[0]!.revocationReason !== 'superseded')
      || m.paidMinor !== RENEWAL_FEE || m.allocatedMinor !== m.paidMinor
      || m.mails?.['renewal-invoice'] !== 1 || m.mails.renewed !== 1;
  });
  expect(wrong).toEqual([]);
  expect(firstTerms.size).toBe(MEMBERS);

  // No member got a second renewal workflow, however often a start was retried.
  let workflows = await renewalWorkflowsPerMember();
  for (let i = 0; i < 20 && [...workflows.values()].reduce((a, b) => a + b, 0) < MEMBERS; i++) {
    await sleep(500);
    workflows = await renewalWorkflowsPerMember();
  }
  expect(workflows.size).toBe(MEMBERS);
  expect([...workflows.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  expect(new Set(workflows.keys())).toEqual(new Set(members.map((m) => m.memberId)));

  // Emails: one message of each kind per member; a resend after a kill between the SMTP accept and
  // recording the delivery is the SAME message again (same Message-ID), bounded here.
  const mails = renewalMails();
  const perMember = members.map((m) => ({ email: m.email, ...mails.get(m.email) }));
  expect(perMember.filter((m) => m.invoice?.messages.size !== 1 || m.renewed?.messages.size !== 1).map((m) => m.email)).toEqual([]);
  const resent = perMember.filter((m) => m.invoice!.deliveries !== 1 || m.renewed!.deliveries !== 1);
  expect(resent.every((m) => m.invoice!.deliveries <= 2 && m.renewed!.deliveries <= 2)).toBe(true);
  // Every second delivery is explained by a kill: one fell between the message's first delivery
  // and its resend (one kill can catch several sends in flight at once, so their number is not
  // bounded by the kills; that nothing is resent without a kill between is).
  const unexplained = resent.flatMap((m) => [m.invoice!, m.renewed!].filter((k) => k.deliveries === 2)
    .filter((k) => !kills.some((kill) => kill.killedAt >= k.acceptedAt[0]! && kill.killedAt <= k.acceptedAt[1]!)).map(() => m.email));
  expect(unexplained).toEqual([]);

  // The Schedule again: every renewal is started and done, nothing is due.
  const second = await triggerRenewalRun();
  expect(second).toMatchObject({ due: 0, started: 0, alreadyStarted: 0 });
  const runs = await asTest((tx) => tx.any(sql.type(z.object({ due: z.number(), started: z.number(), alreadyStarted: z.number() }))`
    SELECT due, started, already_started AS "alreadyStarted" FROM renewal_runs ORDER BY started_at`));
  expect(runs).toEqual([{ due: MEMBERS, started: MEMBERS, alreadyStarted: 0 }, { due: 0, started: 0, alreadyStarted: 0 }]);

  console.log(`renewal crash faults: ${JSON.stringify({
    members: MEMBERS, kills: kills.length, restarts: stack.worker.starts - 1, renewedAtEachKill: kills.map((k) => k.paidSoFar),
    apiRetries: Object.fromEntries(retried), emailsDeliveredTwice: resent.length,
    apiErrorsLogged: apiErrorsLogged(),
    importedAndCardsSeconds: importedMs / 1000, runSeconds: (runMs - importedMs) / 1000, allPaidSeconds: paidMs / 1000, allRenewedSeconds: renewedMs / 1000,
  }, null, 2)}`);

  expect(kills).toHaveLength(KILLS);
  // The kills landed while renewals were in flight.
  expect(kills[0]!.paidSoFar).toBeLessThan(MEMBERS);
  expect(stack.api.starts).toBe(1);
}, 1_200_000);
