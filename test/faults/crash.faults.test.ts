import { inParallel, sleep } from './support/api-client.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, driveToPayment, retriedAnswers } from './support/lifecycles.ts';
import { awaitResults, completedCount, emailRetries, mailCounts, memberOutcomes, retriesInHistories } from './support/outcomes.ts';

const LIFECYCLES = 200;
const KILLS = 12;

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack('crash');
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

interface Kill { atMs: number; afterReadyMs: number; paidSoFar: number; completedSoFar: number }

/**
 * SIGKILLs the worker 1-3 s after each start (a random point in whatever it is doing) and starts
 * it again at once, `count` times; the last worker is left running.
 */
async function killWorkerRepeatedly(count: number, paid: () => number, started: number): Promise<Kill[]> {
  const kills: Kill[] = [];
  while (kills.length < count) {
    const afterReadyMs = 1_000 + Math.floor(Math.random() * 2_000);
    await sleep(afterReadyMs);
    await stack.worker.kill('SIGKILL');
    kills.push({ atMs: Date.now() - started, afterReadyMs, paidSoFar: paid(), completedSoFar: await completedCount(stack) });
    await stack.worker.start(WORKER_READY);
  }
  return kills;
}

test(`${LIFECYCLES} lifecycles in flight while the worker is SIGKILLed ${KILLS} times: every one completes, everything happened once`, async () => {
  const started = Date.now();
  const applicants = Array.from({ length: LIFECYCLES }, (_, i) => applicant(i + 1));
  let paid = 0;
  const driving = inParallel(applicants, 25, async (a) => {
    const memberId = await driveToPayment(stack, a);
    paid++;
    return memberId;
  });
  await sleep(2_000);
  const kills = await killWorkerRepeatedly(KILLS, () => paid, started);
  const memberIds = await driving;
  const drivenMs = Date.now() - started;
  const stages = await awaitResults(stack, memberIds);
  const completedMs = Date.now() - started;

  expect(stages.filter((stage) => stage !== 'CardIssued')).toEqual([]);
  const outcomes = await memberOutcomes(stack);
  expect(outcomes).toHaveLength(LIFECYCLES);
  const wrong = outcomes.filter((m) => m.status !== 'active' || !m.memberNumber || m.invoices !== 1 || m.payments !== 1 || m.idCards !== 1 || m.events !== 7
    || m.terms !== 1 || m.allocatedMinor !== m.paidMinor
    || m.mails?.approved !== 1 || m.mails.invoice !== 1 || m.mails.activated !== 1);
  expect(wrong).toEqual([]);
  expect(new Set(outcomes.map((m) => m.memberNumber)).size).toBe(LIFECYCLES);

  const mails = mailCounts(stack);
  const perRecipient = applicants.map((a) => ({ email: a.email.toLowerCase(), ...mails.get(a.email.toLowerCase()) }));
  const notOneMessage = perRecipient.filter((m) => m.approved?.messages !== 1 || m.invoice?.messages !== 1 || m.activated?.messages !== 1);
  const resent = perRecipient.filter((m) => m.approved?.deliveries !== 1 || m.invoice?.deliveries !== 1 || m.activated?.deliveries !== 1);
  const history = await retriesInHistories(stack, memberIds);
  const resentWhy = await Promise.all(resent.map(async (m) => ({
    email: m.email, emailRetries: await emailRetries(stack, applicants.find((a) => a.email.toLowerCase() === m.email)?.memberId ?? '') })));
  const report = {
    lifecycles: LIFECYCLES, kills: kills.length, restarts: stack.worker.starts - 1, killTimesMs: kills.map((k) => k.atMs),
    paidAtEachKill: kills.map((k) => k.paidSoFar), completedAtEachKill: kills.map((k) => k.completedSoFar), activityRetries: history.activityRetries, workflowTaskTimeouts: history.workflowTaskTimeouts,
    apiRetries: Object.fromEntries(retriedAnswers), emailsReceived: stack.smtp.messages.length, smtpSessionsCutMidMessage: stack.smtp.droppedConnections.length,
    activationEmailsDeliveredTwice: resent.filter((m) => m.activated?.deliveries !== 1).length, recipientsWithAResentEmail: resent, resentWhy,
    drivenSeconds: drivenMs / 1000, allCardIssuedSeconds: completedMs / 1000,
  };
  console.log(`crash faults: ${JSON.stringify(report, null, 2)}`);

  expect(kills).toHaveLength(KILLS);
  // The kills landed while lifecycles were in flight, and interrupted real work.
  expect(kills.every((k) => k.completedSoFar < LIFECYCLES)).toBe(true);
  expect(history.activityRetries + history.workflowTaskTimeouts).toBeGreaterThan(0);
  // Exactly one email of each kind per member. A resend after a kill in the window between the
  // SMTP accept and recording the delivery is a second delivery of the SAME message (same
  // Message-ID, which mail clients deduplicate): reported above, bounded here.
  expect(notOneMessage).toEqual([]);
  if (resent.length > 0) console.warn(`crash faults: ${resent.length} recipient(s) got an email delivered twice: ${JSON.stringify(resent)}`);
  expect(resent.every((m) => (m.approved?.deliveries ?? 0) <= 2 && (m.invoice?.deliveries ?? 0) <= 2 && (m.activated?.deliveries ?? 0) <= 2)).toBe(true);
  expect(resent.length).toBeLessThanOrEqual(kills.length);
  expect(stack.api.starts).toBe(1);
}, 1_200_000);
