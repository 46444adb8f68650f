import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import type { MemberActivityDeps } from '../../activities/members/index.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { createLogger } from '../../src/logger.ts';
import { createSmtpMailer, senderDomain } from '../../src/mail/mailer.ts';
import { LocalDirectoryStorage } from '../../src/storage/local-storage.ts';
import { createMembershipWorker } from '../../src/temporal/membership-worker.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { createTenant, type Tenant } from '../../src/tenants/tenants.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { makeCommittee, seedMiniGeography, testMasterKey, type MiniGeography } from './fixtures.ts';
import { startSmtpCapture, type SmtpCapture } from './smtp-capture.ts';

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
  smtp: SmtpCapture;
  client: Client;
  deps: MemberActivityDeps;
  committeeId: string;
  headUserId: string;
  /** A worker on the membership task queue; call again after stopping it to get a new one. */
  startWorker(): Promise<{ worker: Worker; running: Promise<void> }>;
  close(): Promise<void>;
}

export interface HarnessDurations {
  approvalReminderAfterMs?: number;
  approvalEscalationAfterMs?: number;
  paymentWindowMs?: number;
}

/** Real Postgres (as the app role), the real Temporal dev server, a real SMTP server. */
export async function startLifecycleHarness(durations: HarnessDurations = {}): Promise<LifecycleHarness> {
  const db = await createTestDatabase();
  const geo = await seedMiniGeography(db.owner);
  const keyring = new Keyring(testMasterKey());
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
    clock: () => new Date(), log: createLogger('test-worker', 'silent'), mailDomain: senderDomain(MAIL_FROM),
  };
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const client = new Client({ connection: await Connection.connect({ address }) });
  const connections: NativeConnection[] = [];
  return {
    db, geo, tenant, keyring, smtp, client, deps, committeeId, headUserId,
    async startWorker() {
      const connection = await NativeConnection.connect({ address });
      connections.push(connection);
      const worker = await createMembershipWorker({
        connection, namespace: 'default', deps, workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE!, shutdownGraceTime: '1 second',
      });
      return { worker, running: worker.run() };
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
