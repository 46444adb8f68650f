import { call, inParallel, sleep } from './support/api-client.ts';
import { startFaultStack, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, approve, driveToPayment, pay, register, retriedAnswers } from './support/lifecycles.ts';
import { awaitResults, completedCount, memberOutcomes, retriesInHistories } from './support/outcomes.ts';
import { probeUntil, summarize, untilOk } from './support/probes.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

const DATABASE_OUTAGE_MS = 30_000;
const TEMPORAL_OUTAGE_MS = 30_000;

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack('outage');
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

const everyMemberOnce = async () => (await memberOutcomes(stack)).filter((m) => m.status === 'active'
  && (m.invoices !== 1 || m.payments !== 1 || m.idCards !== 1 || m.events !== 7 || m.terms !== 1 || m.allocatedMinor !== m.paidMinor || m.mails?.activated !== 1));

test(`Postgres stopped for ${DATABASE_OUTAGE_MS / 1000} s under load: the API answers 503 at once, no lifecycle is lost, nothing restarts`, async () => {
  const probeMember = await register(stack, applicant(0, 1));
  const applicants = Array.from({ length: 40 }, (_, i) => applicant(i + 1, 1));
  const driving = inParallel(applicants, 10, (a) => driveToPayment(stack, a));
  await sleep(4_000);
  const completedBeforeStop = await completedCount(stack);
  const stoppedAt = Date.now();
  await stack.postgres.server.stop();
  const answers = await probeUntil(stack.apiUrl, [
    { name: 'GET /readyz', method: 'GET', path: '/readyz' },
    { name: 'GET /api/members/{id}', method: 'GET', path: `/api/members/${probeMember}`, options: { token: stack.party.headToken } },
    { name: 'POST applications', method: 'POST', path: `/api/parties/${stack.party.tenant.slug}/applications`, options: {
      body: { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: 'Probe', gender: 'M', phone: '9841999999', wardId: stack.party.geo.wardIds[0] } } },
    } },
  ], stoppedAt, DATABASE_OUTAGE_MS);
  await sleep(Math.max(0, DATABASE_OUTAGE_MS - (Date.now() - stoppedAt)));
  await stack.postgres.server.start();
  const outageMs = Date.now() - stoppedAt;
  const readyAgainMs = await untilOk(stack.apiUrl, '/readyz');
  const memberIds = await driving;
  const stages = await awaitResults(stack, memberIds);
  const history = await retriesInHistories(stack, memberIds);
  const report = { outageSeconds: outageMs / 1000, lifecycles: memberIds.length, completedBeforeStop, activityRetries: history.activityRetries,
    probes: summarize(answers), readyzOkAfterRestartMs: readyAgainMs,
    driverRetries: Object.fromEntries(retriedAnswers), allCardIssuedAfterRestartSeconds: (Date.now() - stoppedAt - outageMs) / 1000 };
  console.log(`database outage: ${JSON.stringify(report, null, 2)}`);

  expect(answers.length).toBeGreaterThanOrEqual(3 * 8);
  expect(completedBeforeStop).toBeLessThan(memberIds.length);
  expect(history.activityRetries).toBeGreaterThan(0);
  expect(answers.filter((a) => a.status !== 503 || a.ms > 3_000)).toEqual([]);
  expect(answers.filter((a) => a.name !== 'GET /readyz').every((a) => a.code === 'DATABASE_UNAVAILABLE')).toBe(true);
  expect(stages.filter((s) => s !== 'CardIssued')).toEqual([]);
  expect(await everyMemberOnce()).toEqual([]);
  expect(await call(stack.apiUrl, 'GET', `/api/members/${probeMember}`, { token: stack.party.headToken })).toMatchObject({ status: 200 });
  expect([stack.worker.starts, stack.worker.running, stack.api.starts, stack.api.running]).toEqual([1, true, 1, true]);
}, 600_000);

test(`Temporal restarted after ${TEMPORAL_OUTAGE_MS / 1000} s: lifecycles awaiting approval survive, registration goes on, decisions answer 503 meanwhile`, async () => {
  const waiting = await inParallel(Array.from({ length: 10 }, (_, i) => applicant(i + 1, 2)), 5, (a) => register(stack, a));
  const stoppedAt = Date.now();
  await stack.temporal.stop();
  // Calls that need Temporal go once, early: each takes the client's whole retry budget to fail.
  const [polled, once, applied] = await Promise.all([
    probeUntil(stack.apiUrl, [
      { name: 'GET /readyz', method: 'GET', path: '/readyz' },
      { name: 'GET /api/members/{id} (database only)', method: 'GET', path: `/api/members/${waiting[0]!}`, options: { token: stack.party.headToken } },
    ], stoppedAt, TEMPORAL_OUTAGE_MS),
    probeUntil(stack.apiUrl, [
      { name: 'POST approve', method: 'POST', path: `/api/members/${waiting[0]!}/approve`, options: { token: stack.party.headToken, body: { data: { type: 'approvals', attributes: {} } } } },
    ], stoppedAt, 1_000, 1_000),
    // An application is recorded by its request alone: it is taken while Temporal is down, and its lifecycle starts once Temporal is back.
    sleep(1_000).then(() => call(stack.apiUrl, 'POST', `/api/parties/${stack.party.tenant.slug}/applications`, {
      body: { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: 'Applied during the outage', gender: 'M', phone: '9841999998', email: 'applied.during.outage@example.np', wardId: stack.party.geo.wardIds[1] } } },
    })),
  ]);
  const answers = [...polled, ...once];
  await sleep(Math.max(0, TEMPORAL_OUTAGE_MS - (Date.now() - stoppedAt)));
  await stack.temporal.start();
  const outageMs = Date.now() - stoppedAt;
  const readyAgainMs = await untilOk(stack.apiUrl, '/readyz');
  const appliedId = applied.body?.data?.id as string;
  await inParallel([...waiting, appliedId], 5, async (memberId, i) => {
    await approve(stack, memberId);
    await pay(stack, memberId, `rcpt-temporal-${i}`);
  });
  const stages = await awaitResults(stack, [...waiting, appliedId]);
  const report = { outageSeconds: outageMs / 1000, lifecyclesAwaitingApproval: waiting.length, probes: summarize(answers),
    applicationDuringOutage: { status: applied.status, ms: applied.ms }, readyzOkAfterRestartMs: readyAgainMs };
  console.log(`temporal outage: ${JSON.stringify(report, null, 2)}`);

  expect([applied.status, applied.ms < 5_000]).toEqual([201, true]);
  const temporalCalls = answers.filter((a) => a.name === 'POST approve');
  expect(temporalCalls).toHaveLength(1);
  expect(temporalCalls.filter((a) => a.status !== 503 || a.code !== 'TEMPORAL_UNAVAILABLE' || a.ms > 25_000)).toEqual([]);
  expect(answers.filter((a) => a.name === 'GET /readyz' && (a.status !== 503 || a.ms > 3_000))).toEqual([]);
  expect(answers.filter((a) => a.name.includes('database only') && a.status !== 200)).toEqual([]);
  expect(stages).toEqual([...waiting, appliedId].map(() => 'CardIssued'));
  expect(await everyMemberOnce()).toEqual([]);
  expect([stack.worker.starts, stack.worker.running, stack.api.starts, stack.api.running]).toEqual([1, true, 1, true]);
}, 600_000);
