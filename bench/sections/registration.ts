import { sql } from 'slonik';
import type { ApiHarness } from '../../test/support/api-harness.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant } from '../../src/members/lifecycle-client.ts';
import { AfterCommitStarts } from '../../src/members/lifecycle-starts.ts';
import { HEADS_TOLD_ON_ARRIVAL } from '../../src/temporal/workflow-patches.ts';
import { ELIGIBLE } from '../../test/support/eligibility.ts';
import { NOOP_QUEUE } from './lifecycle.ts';
import type { HttpClient } from '../support/http-client.ts';
import { ratio, summarize, type Latency } from '../support/stats.ts';

export interface RegistrationSection {
  ratePerSecond: number;
  seconds: number;
  /** The whole product at work: each registration's lifecycle runs on the worker meanwhile. */
  registration: Latency;
  registrationStatuses: Record<number, number>;
  /** The request path alone: the worker stopped, the lifecycles wait in Temporal (as in a burst). */
  requestPath: Latency;
  requestPathStatuses: Record<number, number>;
  /** The same work with nothing of ours on top: an empty tenant transaction and the start of a no-op workflow. */
  floor: Latency;
  /** An empty tenant transaction alone: what the request path waits for since the lifecycle starts after the answer (absent from earlier reports). */
  transactionFloor?: Latency;
  /** The registration's transaction alone, in the bench's process (no HTTP, no party lookup), its start handed off as the API does (absent from earlier reports). */
  transaction?: Latency;
  trivial: Latency;
  ratioP95: number;
}

/** Open loop in the bench's own process: `rate` runs a second for `seconds`, each timed. */
async function inProcessOpenLoop(rate: number, seconds: number, work: (i: number) => Promise<void>): Promise<Latency> {
  const total = Math.round(rate * seconds);
  const samples: number[] = [];
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    inFlight.push(work(i).then(() => { samples.push(performance.now() - t0); }));
  }
  await Promise.all(inFlight);
  return summarize(samples);
}

/**
 * Registration latency at a fixed request rate, open loop from the client thread: with the
 * worker running the lifecycles, with the worker stopped (the request path alone), beside
 * `/healthz` and beside the floor (the transaction and the workflow start with nothing of ours).
 */
export async function benchRegistration(api: ApiHarness, client: HttpClient, ratePerSecond: number, seconds: number, log: (line: string) => void): Promise<RegistrationSection> {
  const bodyTemplate = (series: number) => JSON.stringify({ data: { type: 'applications', attributes: {
    ...ELIGIBLE, fullNameEn: 'Rate Test', fullNameNe: 'दर परीक्षण', gender: 'M', phone: `98${series}{i}`, wardId: api.geo.wardIds[2],
  } } });
  const post = (series: number) => client.openLoop(`/api/parties/${api.tenant.slug}/applications`, {
    method: 'POST', headers: { 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' }, bodyTemplate: bodyTemplate(series), rate: ratePerSecond, seconds,
  });
  const trivial = await client.openLoop('/healthz', { rate: ratePerSecond, seconds });
  log('registration with the worker running');
  const registration = await post(51);
  await lifecyclesCaughtUp(api, log);
  log('registration with the worker stopped');
  const requestPath = await api.withoutWorker(() => post(52));
  await lifecyclesCaughtUp(api, log);
  log('the registration transaction alone, in process, the worker stopped');
  const starts = new AfterCommitStarts({ client: api.client, pool: api.db.app });
  const application = (i: number) => ApplicationSchema.parse({ fullNameEn: 'Rate Test', fullNameNe: 'दर परीक्षण', gender: 'M', phone: `9853${String(i).padStart(6, '0')}`, wardId: api.geo.wardIds[2] });
  const transaction = await api.withoutWorker(async () => {
    const latency = await inProcessOpenLoop(ratePerSecond, seconds, async (i) => {
      await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring, starts }, api.tenant.id, application(i));
    });
    await starts.drain();
    return latency;
  });
  await lifecyclesCaughtUp(api, log);
  log('floor: a tenant transaction and a no-op workflow start');
  const emptyTransaction = () => withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'bench' }, (tx) => tx.query(sql.unsafe`SELECT 1`));
  const floor = await inProcessOpenLoop(ratePerSecond, seconds, async (i) => {
    await emptyTransaction();
    await api.client.workflow.start('noopLifecycle', { workflowId: `bench-registration-floor-${Date.now()}-${i}`, taskQueue: NOOP_QUEUE });
  });
  log('transaction floor: a tenant transaction alone');
  const transactionFloor = await inProcessOpenLoop(ratePerSecond, seconds, async () => { await emptyTransaction(); });
  const latency = summarize(registration.samples);
  return {
    ratePerSecond, seconds, registration: latency, registrationStatuses: registration.statuses,
    requestPath: summarize(requestPath.samples), requestPathStatuses: requestPath.statuses, transaction, floor, transactionFloor,
    trivial: summarize(trivial.samples), ratioP95: ratio(latency.p95, summarize(trivial.samples).p95),
  };
}

/** Waits until every lifecycle has run its first task (the heads' arrival patch is taken there), so the next measurement does not pay for this one's backlog. */
async function lifecyclesCaughtUp(api: ApiHarness, log: (line: string) => void): Promise<void> {
  const query = `WorkflowType = 'memberLifecycle' AND ExecutionStatus = 'Running' AND TemporalChangeVersion != '${HEADS_TOLD_ON_ARRIVAL}'`;
  const started = Date.now();
  for (;;) {
    const { count } = await api.client.workflow.count(query);
    if (count === 0 || Date.now() - started > 15 * 60_000) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  log(`lifecycles caught up after ${Math.round((Date.now() - started) / 1000)} s`);
}
