import { inParallel, sleep } from './support/api-client.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, approve, awaitInvoice, pay, register } from './support/lifecycles.ts';
import { awaitResults, memberOutcomes, retriesInHistories } from './support/outcomes.ts';

/**
 * A deploy stops the worker with SIGTERM while lifecycles are at work (payments recorded,
 * members activated, cards rendered, emails sent). The worker drains: it stops taking tasks,
 * finishes what it started within WORKER_SHUTDOWN_GRACE_MS, and exits. Nothing may be lost,
 * retried or left to time out: every activity runs once, no workflow task times out, and the
 * next worker finishes every lifecycle.
 */
const LIFECYCLES = 16;

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack('drain', { extraEnv: { WORKER_SHUTDOWN_GRACE_MS: '30000' } });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

test(`SIGTERM to the worker while ${LIFECYCLES} lifecycles are paid: it drains and exits; no activity retried, no task timed out, each lifecycle finished once`, async () => {
  const applicants = Array.from({ length: LIFECYCLES }, (_, i) => applicant(i + 1, 9));
  const ids = await inParallel(applicants, 8, async (a) => {
    const id = await register(stack, a);
    await approve(stack, id);
    await awaitInvoice(stack, id);
    return id;
  });
  const paying = inParallel(ids, LIFECYCLES, (id, i) => pay(stack, id, `rcpt-drain-${i}`));
  await sleep(300);
  const logFrom = stack.worker.output.length;
  const signalledAt = Date.now();
  await stack.worker.kill('SIGTERM');
  const drainMs = Date.now() - signalledAt;
  const exit = stack.worker.lastExit;
  const stopped = stack.worker.output.slice(logFrom).some((line) => line.includes('"msg":"worker stopped"'));
  await stack.worker.start(WORKER_READY);
  await paying;
  const stages = await awaitResults(stack, ids);
  const retries = await retriesInHistories(stack, ids);
  console.log(`worker drain: ${JSON.stringify({ lifecycles: LIFECYCLES, drainMs, exit, ...retries })}`);

  expect([exit, stopped]).toEqual(['0', true]);
  expect(stages).toEqual(ids.map(() => 'CardIssued'));
  expect(retries).toEqual({ activityRetries: 0, workflowTaskTimeouts: 0 });
  const outcomes = (await memberOutcomes(stack)).filter((m) => ids.includes(m.id));
  expect(outcomes.map((m) => [m.status, m.invoices, m.payments, m.idCards, m.mails?.activated])).toEqual(ids.map(() => ['active', 1, 1, 1, 1]));
}, 600_000);
