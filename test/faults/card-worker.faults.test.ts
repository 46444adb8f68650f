import { inParallel, sleep } from './support/api-client.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, approve, awaitInvoice, driveToPayment, pay, register } from './support/lifecycles.ts';
import { ChildService } from './support/child-service.ts';
import { awaitResults, memberOutcomes } from './support/outcomes.ts';
import { memberWorkflowId, statusQuery } from '../../src/members/lifecycle-contract.ts';
import { CARDS_TASK_QUEUE, MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';

/**
 * The card task queue served by a worker process of its own (WORKER_TASK_QUEUES), as the
 * compose file deploys it: the product's worker serves only the membership queue (every workflow
 * task and database step), a second one only the card queue (card rendering and every email).
 * With the card worker down, a paid lifecycle waits at its card step, nothing rendered or sent;
 * once it is up, that process alone renders and sends, and the lifecycle finishes. SIGTERM drains
 * each of the two.
 */
let stack: FaultStack;
let cards: ChildService;
beforeAll(async () => {
  stack = await startFaultStack('cards', { extraEnv: { WORKER_TASK_QUEUES: MEMBERSHIP_TASK_QUEUE, WORKER_SHUTDOWN_GRACE_MS: '30000' } });
  cards = new ChildService('card-worker', 'src/worker.ts', { ...stack.env, WORKER_TASK_QUEUES: CARDS_TASK_QUEUE });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await cards?.stop(5_000);
  await stack?.close();
});

/** The identity a worker process polls with, from its "worker started" line. */
const identityIn = (line: string) => (JSON.parse(line) as { identity: string; taskQueues: string[] });

/** Who ran each workflow task and each activity of the lifecycle, and on which task queue each activity was scheduled. */
async function whoRan(memberId: string) {
  const history = await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, memberId)).fetchHistory();
  const scheduled = new Map<string, { type: string; queue: string }>();
  const workflowTasks = new Set<string>();
  const activities: string[] = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), { type: s.activityType?.name ?? '?', queue: s.taskQueue?.name ?? '?' });
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const step = scheduled.get(String(started.scheduledEventId));
      activities.push(`${step?.type ?? '?'} on ${step?.queue ?? '?'} by ${started.identity ?? '?'}`);
    }
    const task = event.workflowTaskStartedEventAttributes;
    if (task) workflowTasks.add(task.identity ?? '?');
  }
  return { workflowTasks: [...workflowTasks], activities };
}

test('with the card worker down, paid lifecycles wait at the card step with nothing rendered or sent; once it is up they finish, every card and email done by that process and no workflow task', async () => {
  const main = identityIn(await stack.worker.waitFor(WORKER_READY));
  expect(main.taskQueues).toEqual([MEMBERSHIP_TASK_QUEUE]);
  const ids = await inParallel([1, 2, 3].map((i) => applicant(i, 11)), 3, (a) => driveToPayment(stack, a));
  // Paid and activated by the membership worker; the card step is scheduled on the card queue, which nobody polls.
  const stages = async () => Promise.all(ids.map(async (id) => (await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, id)).query(statusQuery)).stage));
  for (let i = 0; i < 120 && (await stages()).some((stage) => stage !== 'Active'); i++) await sleep(500);
  await sleep(3_000);
  const waiting = await stages();
  const before = (await memberOutcomes(stack)).filter((m) => ids.includes(m.id));
  const pending = await Promise.all(ids.map(async (id) => (await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, id)).describe()).raw.pendingActivities
    ?.map((a) => `${a.activityType?.name ?? '?'}:${String(a.state)}`).sort()));
  expect(waiting).toEqual(ids.map(() => 'Active'));
  expect(before.map((m) => [m.status, m.idCards, m.mails])).toEqual(ids.map(() => ['active', 0, null]));
  expect(stack.smtp.messages).toEqual([]);
  // The card and the four emails (arrival, approved, invoice) scheduled, none started: state 1 is SCHEDULED.
  expect(pending).toEqual(ids.map(() => ['issueIdCard:1', 'notifyCommitteeHeads:1', 'sendMemberEmail:1', 'sendMemberEmail:1']));

  const from = cards.output.length;
  await cards.start(WORKER_READY);
  const card = identityIn(await cards.waitFor(WORKER_READY, 1_000, from));
  expect(card.taskQueues).toEqual([CARDS_TASK_QUEUE]);
  expect(await awaitResults(stack, ids, 120_000)).toEqual(ids.map(() => 'CardIssued'));
  const after = (await memberOutcomes(stack)).filter((m) => ids.includes(m.id));
  expect(after.map((m) => [m.status, m.idCards, m.mails?.approved, m.mails?.invoice, m.mails?.activated])).toEqual(ids.map(() => ['active', 1, 1, 1, 1]));
  for (const id of ids) {
    const ran = await whoRan(id);
    expect(ran.workflowTasks).toEqual([main.identity]);
    const onCards = ran.activities.filter((a) => /^(issueIdCard|sendMemberEmail|notifyCommitteeHeads|notifyContactHolder) /.test(a));
    expect(onCards.sort()).toEqual([
      `issueIdCard on ${CARDS_TASK_QUEUE} by ${card.identity}`, `notifyCommitteeHeads on ${CARDS_TASK_QUEUE} by ${card.identity}`,
      ...Array.from({ length: 3 }, () => `sendMemberEmail on ${CARDS_TASK_QUEUE} by ${card.identity}`),
    ]);
    expect(ran.activities.filter((a) => !onCards.includes(a)).every((a) => a.endsWith(`on ${MEMBERSHIP_TASK_QUEUE} by ${main.identity}`))).toBe(true);
  }
}, 300_000);

test('SIGTERM drains the card worker while cards render (exit 0 within its grace, its replacement finishes every lifecycle once), then the membership worker (exit 0)', async () => {
  if (!cards.running) await cards.start(WORKER_READY);
  const applicants = Array.from({ length: 8 }, (_, i) => applicant(i + 1, 12));
  const ids = await inParallel(applicants, 8, async (a) => {
    const id = await register(stack, a);
    await approve(stack, id);
    await awaitInvoice(stack, id);
    return id;
  });
  const paying = inParallel(ids, ids.length, (id, i) => pay(stack, id, `rcpt-cards-drain-${i}`));
  // SIGTERM once the card worker has a card or an email in hand (PendingActivityState 2: STARTED).
  const cardWork = ['issueIdCard', 'sendMemberEmail', 'notifyCommitteeHeads', 'notifyContactHolder'];
  const inHand = async () => (await Promise.all(ids.map(async (id) => (await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, id)).describe()).raw.pendingActivities ?? [])))
    .flat().filter((a) => cardWork.includes(a.activityType?.name ?? '') && Number(a.state) === 2).length;
  let started = 0;
  for (let i = 0; i < 600 && started === 0; i++) {
    started = await inHand();
    if (started === 0) await sleep(50);
  }
  expect(started).toBeGreaterThan(0);
  const logFrom = cards.output.length;
  const signalledAt = Date.now();
  await cards.kill('SIGTERM');
  const drainMs = Date.now() - signalledAt;
  const stopped = cards.output.slice(logFrom).some((line) => line.includes('"msg":"worker stopped"'));
  expect([cards.lastExit, stopped, drainMs < 30_000]).toEqual(['0', true, true]);
  await paying;
  await cards.start(WORKER_READY);
  expect(await awaitResults(stack, ids, 180_000)).toEqual(ids.map(() => 'CardIssued'));
  const outcomes = (await memberOutcomes(stack)).filter((m) => ids.includes(m.id));
  expect(outcomes.map((m) => [m.status, m.payments, m.idCards, m.mails?.activated])).toEqual(ids.map(() => ['active', 1, 1, 1]));
  console.log(`card worker drain: ${JSON.stringify({ lifecycles: ids.length, drainMs })}`);

  const mainFrom = stack.worker.output.length;
  await stack.worker.kill('SIGTERM');
  expect([stack.worker.lastExit, stack.worker.output.slice(mainFrom).some((line) => line.includes('"msg":"worker stopped"'))]).toEqual(['0', true]);
}, 420_000);
