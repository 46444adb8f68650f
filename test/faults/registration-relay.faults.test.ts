import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { call, inParallel, sleep, type Answer } from './support/api-client.ts';
import { API_READY, startFaultStack, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, approve, pay, register, retriedAnswers, type Applicant } from './support/lifecycles.ts';
import { awaitResults, memberOutcomes } from './support/outcomes.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

/**
 * Registration records the application and the lifecycle to start in one transaction, then
 * starts the lifecycle (src/members/lifecycle-starts.ts). Here the start cannot happen (Temporal
 * is stopped) and the API process is SIGKILLed right after answering: a crash between the
 * commit and the start. The next API process's relay must start every one of them, once.
 */
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack('relay', { extraEnv: { LIFECYCLE_RELAY_INTERVAL_MS: '1000', LIFECYCLE_RELAY_AFTER_MS: '1000' } });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

const applicationBody = (a: Applicant, name: string) =>
  ({ data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: name, gender: 'F', phone: a.phoneNational, email: a.email, wardId: stack.party.geo.wardIds[1] } } });
const apply = (a: Applicant, name: string, key: string): Promise<Answer> => call(stack.apiUrl, 'POST', `/api/parties/${stack.party.tenant.slug}/applications`,
  { body: applicationBody(a, name), headers: { 'idempotency-key': key, 'x-forwarded-for': `127.2.0.${a.index}` } });

const Count = z.object({ n: z.number() });
const notStarted = () => withTenant(stack.db.app, { tenantId: stack.party.tenant.id, actor: 'test' }, (tx) =>
  tx.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM lifecycle_starts WHERE started_at IS NULL`));
const lifecyclesOf = async (memberId: string) => (await stack.client.workflow.count(`MemberId = "${memberId}"`)).count;

test('the API killed after recording applications it could not start lifecycles for: the next API process starts each exactly once', async () => {
  const holder = applicant(1, 7);
  await register(stack, holder);
  // The holder's lifecycle starts just after its answer: Temporal goes once it has.
  for (const until = Date.now() + 30_000; await notStarted() > 0 && Date.now() < until;) await sleep(100);
  await stack.temporal.stop();
  const applicants = [2, 3, 4, 5].map((i) => applicant(i, 7));
  const keys = applicants.map((a) => `relay-test-key-${a.index}-${stack.party.tenant.id}`);
  // Four new applicants and one whose phone the holder has: all answered alike, while Temporal is down.
  const taken = { ...applicant(6, 7), phoneNational: holder.phoneNational };
  const answers = await Promise.all([...applicants.map((a, i) => apply(a, `Relay ${a.index}`, keys[i]!)), apply(taken, 'Relay taken', `relay-test-key-taken-${stack.party.tenant.id}`)]);
  expect(answers.map((a) => [a.status, a.ms < 5_000])).toEqual(answers.map(() => [201, true]));
  expect(await notStarted()).toBe(5);

  await stack.api.kill('SIGKILL');
  await stack.temporal.start();
  await stack.api.start(API_READY);

  const ids = answers.map((a) => a.body.data.id as string);
  const members = ids.slice(0, 4);
  // A head deciding before the relay has started the lifecycle starts it from its recorded start
  // (or, while the API still finds Temporal unreachable, is told to try again, 503), and it goes through.
  await inParallel(members, 4, async (memberId, i) => {
    await approve(stack, memberId);
    await pay(stack, memberId, `rcpt-relay-${i}`);
  });
  expect(await awaitResults(stack, ids)).toEqual([...members.map(() => 'CardIssued'), 'RegistrationRefused']);
  // A server error retried on the way was a 503 (the lifecycle not started yet), never an internal error.
  expect([...retriedAnswers.keys()].filter((status) => status >= 500 && status !== 503)).toEqual([]);
  expect(await notStarted()).toBe(0);

  // A repeat of each request after all that: the same member, and still one lifecycle each.
  const repeats = await Promise.all(applicants.map((a, i) => apply(a, `Relay ${a.index}`, keys[i]!)));
  expect(repeats.map((a) => [a.status, a.body.data.id])).toEqual(members.map((id) => [201, id]));
  await sleep(2_000);
  expect(await inParallel(ids, 5, lifecyclesOf)).toEqual(ids.map(() => 1));
  const outcomes = (await memberOutcomes(stack)).filter((m) => members.includes(m.id));
  expect(outcomes.map((m) => [m.status, m.invoices, m.payments, m.idCards, m.events, m.mails?.activated])).toEqual(members.map(() => ['active', 1, 1, 1, 7, 1]));
  expect([stack.api.starts, stack.api.running]).toEqual([2, true]);
}, 600_000);
