import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerInterceptors } from '@temporalio/worker';
import type { ParsedMail } from 'mailparser';
import { sql } from 'slonik';
import { z } from 'zod';
import { createMemberActivities, type MemberActivityDeps } from '../../activities/members/index.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readStream } from '../../src/events/event-store.ts';
import { createLogger } from '../../src/logger.ts';
import { createSmtpMailer, senderDomain } from '../../src/mail/mailer.ts';
import { ApplicationSchema, type Application } from '../../src/members/application.ts';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import { LocalDirectoryStorage } from '../../src/storage/local-storage.ts';
import { createCardWorker, createMembershipWorker } from '../../src/temporal/membership-worker.ts';
import { CARDS_TASK_QUEUE, MEMBERSHIP_TASK_QUEUE, TASK_QUEUES, type TaskQueueName } from '../../src/temporal/task-queue.ts';
import { EncryptionCodec, temporalDataConverter } from '../../src/temporal/payload-codec.ts';
import type { MasterKey } from '../../src/crypto/master-key.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { createTenant, type Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import type { memberLifecycle } from '../../workflows/members/member-lifecycle.ts';
import { approveUpdate, paymentReceivedUpdate, statusQuery, type LifecycleStatus, type PaymentMessage } from '../../src/members/lifecycle-contract.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { makeCommittee, seedMiniGeography, testMasterKey, type MiniGeography } from './fixtures.ts';
import { startSmtpCapture, type SmtpCapture } from './smtp-capture.ts';
import { tracingWorkerOptions } from '../../src/temporal/tracing-interceptors.ts';

const MAIL_FROM = 'Test Party <members@party.test>';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Installed already by another file in this process.
}

export interface LifecycleHarness {
  db: TestDatabase;
  geo: MiniGeography;
  tenant: Tenant;
  keyring: Keyring;
  /** The payload codec of the harness's client and workers, under the keyring's master key. */
  codec: EncryptionCodec;
  smtp: SmtpCapture;
  client: Client;
  deps: MemberActivityDeps;
  committeeId: string;
  headUserId: string;
  /**
   * A worker on each task queue (the membership queue and the card queue, as one `npm run worker`
   * runs them), or on those `options.queues` names; call again after stopping it to get a new one.
   * `worker` is the first of them; shutting it down shuts down the others, and `running` settles
   * once all have stopped. Only one may run at a time: every harness shares the task queues, not
   * the database.
   */
  startWorker(options?: WorkerOverrides): Promise<{ worker: Worker; running: Promise<void> }>;
  close(): Promise<void>;
}

export interface HarnessDurations {
  approvalReminderAfterMs?: number;
  approvalEscalationAfterMs?: number;
  paymentWindowMs?: number;
}

export interface WorkerOverrides {
  /** e.g. activity interceptors that inject crashes around the real activities. */
  interceptors?: WorkerInterceptors;
  /** The task queues served (WORKER_TASK_QUEUES); all by default. */
  queues?: readonly TaskQueueName[];
}

/** Real Postgres (as the app role), the real Temporal dev server, a real SMTP server. */
export async function startLifecycleHarness(durations: HarnessDurations = {}, options: { masterKey?: MasterKey } = {}): Promise<LifecycleHarness> {
  const db = await createTestDatabase();
  const geo = await seedMiniGeography(db.owner);
  const masterKey = options.masterKey ?? testMasterKey();
  const keyring = new Keyring(masterKey);
  const codec = new EncryptionCodec(masterKey);
  const tenant = await createTenant(db.app, keyring, {
    slug: `party-${db.name.slice(-6)}`, name: 'Test Party', memberNumberPrefix: 'TP',
    feeSchedule: { currency: 'NPR', admissionFeeMinor: 50_000 },
    approvalReminderAfterMs: durations.approvalReminderAfterMs ?? 3_600_000,
    approvalEscalationAfterMs: durations.approvalEscalationAfterMs ?? 7_200_000,
    paymentWindowMs: durations.paymentWindowMs ?? 3_600_000,
  }, 'test');
  const committeeId = await makeCommittee(db.app, tenant.id, geo.localLevelId, 'Test Municipality Committee');
  const headUserId = await withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, async (tx) => {
    const { id } = await createUser(tx, tenant.id, { email: 'head@party.test', displayName: 'Committee Head', password: 'a long enough password' });
    await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenant.id}, ${committeeId}, ${id}, 'head')`);
    return id;
  });
  const smtp = await startSmtpCapture();
  const mailer = createSmtpMailer({ smtpUrl: smtp.url, from: MAIL_FROM, timeoutMs: 2_000 });
  const storageDir = await mkdtemp(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'storage-'));
  const deps: MemberActivityDeps = {
    pool: db.app, keyring, mailer, storage: new LocalDirectoryStorage(storageDir),
    clock: () => new Date(), log: createLogger('test-worker', 'silent'), mailDomain: senderDomain(MAIL_FROM), publicBaseUrl: 'https://members.test',
  };
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const client = new Client({ connection: await Connection.connect({ address }), dataConverter: temporalDataConverter(codec) });
  const connections: NativeConnection[] = [];
  return {
    db, geo, tenant, keyring, codec, smtp, client, deps, committeeId, headUserId,
    async startWorker(options = {}) {
      const connection = await NativeConnection.connect({ address });
      connections.push(connection);
      const bundle = process.env.TEST_WORKFLOW_BUNDLE!;
      const dataConverter = temporalDataConverter(codec, { failures: true });
      const create = (queue: TaskQueueName): Promise<Worker> => {
        if (queue === CARDS_TASK_QUEUE) return createCardWorker({ connection, namespace: 'default', deps, shutdownGraceTimeMs: 1_000, dataConverter, interceptors: options.interceptors });
        return options.interceptors
          ? Worker.create({
            connection, namespace: 'default', taskQueue: MEMBERSHIP_TASK_QUEUE, activities: createMemberActivities(deps),
            workflowBundle: { codePath: bundle }, shutdownGraceTime: 1_000, interceptors: options.interceptors, sinks: tracingWorkerOptions().sinks, dataConverter,
          })
          : createMembershipWorker({ connection, namespace: 'default', deps, temporal: client, workflowBundlePath: bundle, shutdownGraceTimeMs: 1_000, dataConverter });
      };
      const [worker, ...others] = await Promise.all((options.queues ?? TASK_QUEUES).map(create));
      if (!worker) throw new Error('startWorker needs at least one task queue');
      // Settled at once, so that another worker's failure is no unhandled rejection: it is thrown when `running` settles.
      const othersRunning = Promise.allSettled(others.map((other) => other.run()));
      // The first worker's stop (a test's shutdown, or its failure) stops the others: one process's workers.
      const running = worker.run().finally(async () => {
        for (const other of others) if (other.getState() === 'RUNNING') other.shutdown();
        const failed = (await othersRunning).find((result) => result.status === 'rejected');
        if (failed) throw failed.reason;
      });
      return { worker, running };
    },
    async close() {
      await terminateOpenLifecycles(client, tenant.id);
      mailer.close();
      await client.connection.close();
      await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
      await smtp.stop();
      await db.close();
    },
  };
}

export async function memberRow(h: LifecycleHarness, memberId: string) {
  return withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, (tx) =>
    tx.one(sql.type(z.object({ status: z.string(), memberNumber: z.string().nullable(), version: z.number() }))`
      SELECT status, member_number AS "memberNumber", version FROM members WHERE id = ${memberId}`));
}

/** Test files share one Temporal server and task queue: leave no lifecycle of this tenant running. */
async function terminateOpenLifecycles(client: Client, tenantId: string): Promise<void> {
  for await (const execution of client.workflow.list({ query: `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'` })) {
    await client.workflow.getHandle(execution.workflowId).terminate('test finished').catch(() => undefined);
  }
}

export const asTest = <T>(h: LifecycleHarness, work: Parameters<typeof withTenant<T>>[2]) => withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, work);

/** A committee on `geographyId` whose head is a new user with this email. */
export async function addCommitteeWithHead(h: LifecycleHarness, geographyId: string, name: string, email: string) {
  const committeeId = await makeCommittee(h.db.app, h.tenant.id, geographyId, name);
  const headUserId = await asTest(h, async (tx) => {
    const { id } = await createUser(tx, h.tenant.id, { email, displayName: `${name} Head`, password: 'a long enough password' });
    await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${h.tenant.id}, ${committeeId}, ${id}, 'head')`);
    return id;
  });
  return { committeeId, headUserId };
}

let phoneSeq = 0;
/** A valid application in the harness's second ward; every call has a phone number of its own. */
export const applicationFor = (h: LifecycleHarness, email: string): Application =>
  ApplicationSchema.parse({ fullNameEn: 'Ram Thapa', fullNameNe: 'राम थापा', gender: 'M', phone: `98${String(41_000_000 + ++phoneSeq)}`, email, wardId: h.geo.wardIds[1] });

export const registerMember = (h: LifecycleHarness, email: string): Promise<Registered> =>
  registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, applicationFor(h, email));

export const lifecycleHandle = (h: LifecycleHarness, workflowId: string): WorkflowHandle<typeof memberLifecycle> =>
  h.client.workflow.getHandle<typeof memberLifecycle>(workflowId);

/**
 * The lifecycle of an application the API has just answered. The API answers once the application
 * is committed and starts its lifecycle right after: this waits for that start.
 */
export async function startedLifecycle(client: Client, workflowId: string, timeoutMs = 15_000): Promise<WorkflowHandle<typeof memberLifecycle>> {
  const handle = client.workflow.getHandle<typeof memberLifecycle>(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await handle.describe();
      return handle;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Polls the status query until the lifecycle has issued its invoice. */
export async function awaitInvoice(handle: WorkflowHandle<typeof memberLifecycle>): Promise<NonNullable<LifecycleStatus['invoice']>> {
  for (let i = 0; i < 300; i++) {
    const { invoice } = await handle.query(statusQuery);
    if (invoice) return invoice;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no invoice issued by ${handle.workflowId}`);
}

export const paymentFor = (invoice: { invoiceId: string; amountMinor: number; currency: string }): PaymentMessage =>
  ({ invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'esewa', providerRef: `esewa-${invoice.invoiceId}`, paidAt: new Date().toISOString() });

export const memberEvents = (h: LifecycleHarness, memberId: string) => asTest(h, (tx) => readStream(tx, memberId));

export const rowCount = (h: LifecycleHarness, table: 'invoices' | 'payments' | 'id_cards' | 'mail_deliveries', memberId: string) =>
  asTest(h, (tx) => tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE member_id = ${memberId}`));

/** Every address a captured message was sent to. */
export const recipientsOf = (mail: Pick<ParsedMail, 'to'>) => [mail.to ?? []].flat().flatMap((to) => to.value.map((v) => v.address));

/** Registers an applicant and approves them; answers once the invoice is issued. */
export async function approveAndAwaitInvoice(h: LifecycleHarness, email: string) {
  const { workflowId } = await registerMember(h, email);
  await sendLifecycleUpdate(h.client, workflowId, approveUpdate, { by: `user:${h.headUserId}`, note: 'welcome' });
  return { workflowId, invoice: await awaitInvoice(lifecycleHandle(h, workflowId)) };
}

/** An active member holding a card, admitted through the whole lifecycle. @returns the member's id. */
export async function admitMember(h: LifecycleHarness, email: string): Promise<string> {
  const { workflowId, invoice } = await approveAndAwaitInvoice(h, email);
  await sendLifecycleUpdate(h.client, workflowId, paymentReceivedUpdate, paymentFor(invoice));
  await lifecycleHandle(h, workflowId).result();
  return workflowId.slice(`member-${h.tenant.id}-`.length);
}
