import { inParallel } from './support/api-client.ts';
import { ChildService } from './support/child-service.ts';
import { runCli } from './support/cli.ts';
import { startFaultStack, WORKER_READY, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, approve, awaitInvoice, driveToPayment, pay, register } from './support/lifecycles.ts';
import { awaitResults, retriesInHistories } from './support/outcomes.ts';
import { memberWorkflowId } from '../../src/members/lifecycle-contract.ts';

/**
 * A rollout with worker versioning (docs/workflow-rollout.md, "Deploying workers"): build-1's
 * worker runs lifecycles; build-2's worker starts beside it and is promoted; the lifecycles in
 * flight move to build-2 at their next task (AUTO_UPGRADE, safe because workflow changes are
 * behind patched()); build-1 drains and its worker is stopped with SIGTERM. Nothing is lost or
 * retried, and the operator's CLI shows where each version stands.
 */
let stack: FaultStack;
let second: ChildService | undefined;
beforeAll(async () => {
  stack = await startFaultStack('versioning', { extraEnv: { WORKER_BUILD_ID: 'build-1', WORKER_PROMOTE_ON_START: 'true' } });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await second?.stop(5_000);
  await stack?.close();
});

const cli = (args: string[]) => runCli(args, { DATABASE_URL: stack.postgres.appUrl, TEMPORAL_ADDRESS: stack.temporal.address });
const lastBuildOf = async (memberId: string) =>
  (await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, memberId)).describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;

test('build-2 promoted over build-1 while lifecycles await payment: they finish on build-2, build-1 drains and stops, nothing retried', async () => {
  const ids = await inParallel(Array.from({ length: 6 }, (_, i) => applicant(i + 1, 11)), 3, async (a) => {
    const id = await register(stack, a);
    await approve(stack, id);
    await awaitInvoice(stack, id);
    return id;
  });
  expect(await inParallel(ids, 6, lastBuildOf)).toEqual(ids.map(() => 'build-1'));

  second = new ChildService('worker-2', 'src/worker.ts', { ...stack.env, WORKER_BUILD_ID: 'build-2', WORKER_PROMOTE_ON_START: 'false' });
  await second.start(WORKER_READY);
  const promoted = await cli(['workers:promote', '--build-id', 'build-2']);
  expect([promoted.code, promoted.stderr]).toEqual([0, '']);

  await inParallel(ids, 6, (id, i) => pay(stack, id, `rcpt-versioning-${i}`));
  expect(await awaitResults(stack, ids)).toEqual(ids.map(() => 'CardIssued'));
  expect(await inParallel(ids, 6, lastBuildOf)).toEqual(ids.map(() => 'build-2'));

  const shown = await cli(['workers:deployment']);
  const row = (build: string) => shown.stdout.split('\n').find((line) => line.startsWith(`${build} `))?.trim().split(/\s+/);
  expect([shown.code, row('build-2'), row('build-1')]).toEqual([0, ['build-2', 'current', '0'], ['build-1', expect.stringMatching(/^(draining|drained)$/), '0']]);

  await stack.worker.stop(60_000);
  expect(stack.worker.lastExit).toBe('0');
  // A new application runs on build-2 alone.
  const later = await driveToPayment(stack, applicant(20, 11));
  expect([...await awaitResults(stack, [later]), await lastBuildOf(later)]).toEqual(['CardIssued', 'build-2']);
  expect(await retriesInHistories(stack, [...ids, later])).toEqual({ activityRetries: 0, workflowTaskTimeouts: 0 });
}, 600_000);
