/**
 * Records real member-lifecycle histories for the replay test (test/int/lifecycle-replay.int.test.ts).
 * Starts its own Postgres and Temporal dev server, runs each lifecycle to its end on a real worker,
 * and writes test/fixtures/histories/<name>.json. Run once, after an intended workflow change,
 * naming the new scenarios (histories already recorded are kept, never re-recorded to pass):
 *
 *   node_modules/.bin/node test/support/record-histories.ts [scenario ...]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { projectRoot } from '../../src/paths.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../../src/temporal/task-queue.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import * as sc from '../../src/members/status-change-contract.ts';
import { requestResignationLink, startStatusChange } from '../../src/members/status-change-client.ts';
import {
  addCommitteeWithHead, admitMember, asTest, applicationFor, approveAndAwaitInvoice, awaitInvoice, lifecycleHandle, paymentFor, registerMember, startLifecycleHarness,
  type HarnessDurations, type LifecycleHarness,
} from './lifecycle-harness.ts';
import { startTestServers } from './servers.ts';
import { recordedHistoriesMasterKey } from './fixtures.ts';
import type { MasterKey } from '../../src/crypto/master-key.ts';
import { setGatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../../src/payments/gateways/simulators/khalti-simulator.ts';
import { startGatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';
import { startPaymentAttempt, verifyAttempt } from '../../src/payments/payment-client.ts';
import { paymentWorkflowId, type PaymentVerificationOutcome } from '../../src/payments/payment-verification-contract.ts';
import { PAYMENT_RECONCILIATION_WORKFLOW, type ReconciliationRunReport } from '../../src/payments/reconciliation-run.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { sql } from 'slonik';
import { z } from 'zod';
import { recordPayment } from '../../src/payments/record-payment.ts';
import * as r from '../../src/renewals/renewal-contract.ts';
import { startRenewal } from '../../src/renewals/renewal-client.ts';
import { addDays } from '../../src/terms/standing.ts';
import { termsOf } from '../../src/terms/term-ledger.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import * as t from '../../src/transfers/transfer-contract.ts';
import { requestTransfer, sendTransferDecision, sendTransferLink } from '../../src/transfers/transfer-client.ts';

const HISTORIES_DIR = path.join(projectRoot, 'test', 'fixtures', 'histories');

/**
 * The same ProtoJSON `historyToJSON` (@temporalio/common) writes, so `historyFromJSON` and the
 * Temporal CLI read it. That function cannot be called here: npm installs @temporalio/common and
 * @temporalio/proto with separate copies of protobufjs 8, whose protojson then rejects the other
 * copy's types ("type must be a Type"). This uses the copy @temporalio/proto itself loads.
 */
function historyToJSON(history: History): string {
  const protoRequire = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
  const { toJson } = protoRequire('protobufjs/ext/protojson') as { toJson: (type: unknown, message: unknown) => unknown };
  const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');
  return JSON.stringify(toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

/** Drives one lifecycle to its end; @returns its workflow id. */
type Scenario = (h: LifecycleHarness) => Promise<string>;


const quick: Record<string, { stage: m.MemberStageName; run: Scenario }> = {
  'happy-path-card-issued': {
    stage: 'CardIssued',
    run: async (h) => {
      const { workflowId, invoice } = await approveAndAwaitInvoice(h, 'happy@example.np');
      await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
      return workflowId;
    },
  },
  rejected: {
    stage: 'Rejected',
    run: async (h) => {
      const { workflowId } = await registerMember(h, 'rejected@example.np');
      await sendLifecycleUpdate(h.client, workflowId, m.rejectUpdate, { by: `user:${h.headUserId}`, reason: 'not resident in the ward' });
      return workflowId;
    },
  },
  'expired-unpaid': {
    stage: 'Expired',
    run: async (h) => (await approveAndAwaitInvoice(h, 'unpaid@example.np')).workflowId,
  },
  'registration-refused-phone-taken': {
    stage: 'RegistrationRefused',
    run: async (h) => {
      const holder = applicationFor(h, 'holder@example.np');
      await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, holder);
      const taken = { ...holder, email: 'not-the-holder@example.np' };
      return (await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, taken, { idempotencyKey: 'refused-history-key-0001' })).workflowId;
    },
  },
  // An operator's decision by signal, recorded as operator:<name> (patch operator-signal-actors).
  'approved-by-operator-signal': {
    stage: 'CardIssued',
    run: async (h) => {
      const { workflowId } = await registerMember(h, 'operator-approved@example.np');
      const handle = lifecycleHandle(h, workflowId);
      await handle.signal(m.approveSignal, { by: `user:${h.headUserId}`, note: 'approved from the Temporal UI' });
      await handle.signal(m.paymentReceivedSignal, paymentFor(await awaitInvoice(handle)));
      return workflowId;
    },
  },
  'withdrawn-awaiting-payment': {
    stage: 'Withdrawn',
    run: async (h) => {
      const { workflowId } = await approveAndAwaitInvoice(h, 'withdrawn@example.np');
      await sendLifecycleUpdate(h.client, workflowId, m.withdrawUpdate, { reason: 'moved abroad' });
      return workflowId;
    },
  },
};

const escalated: typeof quick = {
  'escalated-then-approved-by-signal': {
    stage: 'CardIssued',
    run: async (h) => {
      const district = await addCommitteeWithHead(h, h.geo.districtId, 'Test District Committee', 'district-head@party.test');
      const { workflowId } = await registerMember(h, 'escalated@example.np');
      const handle = lifecycleHandle(h, workflowId);
      await h.smtp.waitFor((mail) => mail.subject?.includes('awaits a decision') === true, 2);
      await handle.signal(m.approveSignal, { by: `user:${district.headUserId}` });
      await handle.signal(m.paymentReceivedSignal, paymentFor(await awaitInvoice(handle)));
      return workflowId;
    },
  },
};

/** Names given on the command line record only those scenarios; none records every one. */
const only = new Set(process.argv.slice(2));

async function record(durations: HarnessDurations, all: typeof quick, options: { masterKey?: MasterKey } = {}): Promise<void> {
  const scenarios = Object.fromEntries(Object.entries(all).filter(([name]) => only.size === 0 || only.has(name)));
  if (Object.keys(scenarios).length === 0) return;
  const h = await startLifecycleHarness(durations, options);
  const { worker, running } = await h.startWorker();
  try {
    for (const [name, scenario] of Object.entries(scenarios)) {
      const handle = lifecycleHandle(h, await scenario.run(h));
      const { stage } = await handle.result();
      if (stage !== scenario.stage) throw new Error(`${name} ended ${stage}, not ${scenario.stage}`);
      await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`recorded ${name} (${stage})`);
    }
  } finally {
    worker.shutdown();
    await running;
    await h.close();
  }
}

/** The Schedule's workflow, run once directly: anchors the harness party's chain. */
async function recordChainAnchoring(): Promise<void> {
  const name = 'event-chain-anchoring';
  if (only.size > 0 && !only.has(name)) return;
  const h = await startLifecycleHarness();
  const { worker, running } = await h.startWorker();
  try {
    await registerMember(h, 'anchored@example.np');
    const handle = await h.client.workflow.start('eventChainAnchoring', { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: `${name}-recording`, args: [] });
    const result = (await handle.result()) as { parties: number; anchored: number };
    if (result.anchored !== 1) throw new Error(`${name} anchored ${result.anchored} chains, not 1`);
    await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
    console.log(`recorded ${name}`);
  } finally {
    worker.shutdown();
    await running;
    await h.close();
  }
}

/**
 * The transfer workflow's paths, each run to its end: approved by a head covering the
 * destination, refused, accepted by the transfer window, and approved by an operator's signal;
 * and the link workflow that emails a member their transfer link.
 */
async function recordTransfers(prefix = '', options: { masterKey?: MasterKey } = {}): Promise<void> {
  const scenarios: Record<string, { status: t.TransferStatus; window: number; decide: (h: LifecycleHarness, workflowId: string) => Promise<unknown> }> = {
    'transfer-approved': { status: 'accepted', window: 3_600_000, decide: (h, id) => sendTransferDecision(h.client, id, t.approveTransferUpdate, { by: `user:${h.headUserId}` }) },
    'transfer-refused': { status: 'refused', window: 3_600_000, decide: (h, id) => sendTransferDecision(h.client, id, t.refuseTransferUpdate, { by: `user:${h.headUserId}`, reasonCode: 'not_resident' }) },
    'transfer-accepted-after-window': { status: 'accepted', window: 2_000, decide: () => Promise.resolve() },
    'transfer-approved-by-operator-signal': { status: 'accepted', window: 3_600_000, decide: (h, id) => h.client.workflow.getHandle(id).signal(t.approveTransferSignal, { by: 'ops-on-call' }) },
  };
  const wanted = Object.entries(scenarios).map(([name, scenario]) => [`${prefix}${name}`, scenario] as const).filter(([name]) => only.size === 0 || only.has(name));
  const link = only.size === 0 || only.has(`${prefix}transfer-link`);
  if (wanted.length === 0 && !link) return;
  const h = await startLifecycleHarness({ paymentWindowMs: 60_000 }, options);
  const { worker, running } = await h.startWorker();
  try {
    for (const [name, scenario] of wanted) {
      const memberId = await admitMember(h, `${name}@example.np`);
      await changeTenantSettings(h.db.owner, h.tenant.slug, { transferWindowMs: scenario.window }, 'recorder');
      const transfer = await requestTransfer({ client: h.client, pool: h.db.app }, { tenantId: h.tenant.id, actor: 'recorder' },
        { memberId, toWardId: h.geo.wardIds[2]!, via: 'staff', requestedBy: 'recorder' });
      await scenario.decide(h, transfer!.workflowId);
      const handle = h.client.workflow.getHandle(transfer!.workflowId);
      const { status } = (await handle.result()) as t.TransferOutcome;
      if (status !== scenario.status) throw new Error(`${name} ended ${status}, not ${scenario.status}`);
      await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`recorded ${name} (${status})`);
    }
    if (link) {
      const memberId = await admitMember(h, 'transfer-link@example.np');
      const now = new Date();
      await sendTransferLink(h.client, h.tenant.id, memberId, now, new Date(now.getTime() + 86_400_000));
      const handle = h.client.workflow.getHandle(t.transferLinkWorkflowId(h.tenant.id, memberId, now));
      const result = await handle.result() as string;
      if (result !== 'sent') throw new Error(`${prefix}transfer-link ended ${result}, not sent`);
      await writeFile(path.join(HISTORIES_DIR, `${prefix}transfer-link.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`recorded ${prefix}transfer-link`);
    }
  } finally {
    worker.shutdown();
    await running;
    await h.close();
  }
}

/**
 * The status-change workflow (workflows/members/status-change.ts), one history per way it ends:
 * a suspension that ends by itself, one lifted early, an expulsion confirmed (after the
 * proposer's own confirmation was refused), a resignation by staff, a death, and a refusal.
 */
async function recordStatusChanges(prefix = '', options: { masterKey?: MasterKey } = {}): Promise<void> {
  // The resignation link's path is recorded only on the card queue (patch status-change-cards-own-queue): none was recorded before it.
  const names = ['status-suspension-ends', 'status-suspension-lifted-early', 'status-expulsion-confirmed', 'status-resignation', 'status-death', 'status-refused', ...(prefix === '' ? [] : ['status-resignation-link'])];
  if (only.size > 0 && !names.some((name) => only.has(`${prefix}${name}`))) return;
  const h = await startLifecycleHarness({}, options);
  const { worker, running } = await h.startWorker();
  const district = await addCommitteeWithHead(h, h.geo.districtId, 'District Committee', 'district-head@party.test');
  const head = `user:${h.headUserId}`;
  const context = { tenantId: h.tenant.id, actor: head };
  const deps = { client: h.client, pool: h.db.app };
  const active = async (email: string) => {
    const { workflowId, invoice } = await approveAndAwaitInvoice(h, email);
    await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
    await lifecycleHandle(h, workflowId).result();
    return workflowId.replace(`member-${h.tenant.id}-`, '');
  };
  const save = async (name: string, workflowId: string) => {
    const handle = h.client.workflow.getHandle(workflowId);
    await handle.result();
    await writeFile(path.join(HISTORIES_DIR, `${prefix}${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
    console.log(`recorded ${prefix}${name}`);
  };
  try {
    let member = await active('suspended@example.np');
    let applied = await startStatusChange(deps, context, member, { kind: 'suspension', by: head, until: new Date(Date.now() + 2_000).toISOString(), reasonCode: 'indiscipline', note: null });
    await save('status-suspension-ends', applied.workflowId);

    member = await active('lifted@example.np');
    applied = await startStatusChange(deps, context, member, { kind: 'suspension', by: head, until: new Date(Date.now() + 3_600_000).toISOString(), reasonCode: 'misconduct', note: null });
    await h.client.workflow.getHandle(applied.workflowId).executeUpdate(sc.liftUpdate, { args: [{ by: head }] });
    await save('status-suspension-lifted-early', applied.workflowId);

    member = await active('expelled@example.np');
    applied = await startStatusChange(deps, context, member, { kind: 'expulsion', by: head, reasonCode: 'anti_party_activity', committeeId: h.committeeId, note: null });
    await h.client.workflow.getHandle(applied.workflowId).executeUpdate(sc.confirmUpdate, { args: [{ by: head }] }).catch(() => undefined);
    await h.client.workflow.getHandle(applied.workflowId).executeUpdate(sc.confirmUpdate, { args: [{ by: `user:${district.headUserId}`, note: null }] });
    await save('status-expulsion-confirmed', applied.workflowId);

    if (names.includes('status-resignation-link')) {
      const linked = await active('resignation-link@example.np');
      const now = new Date();
      await requestResignationLink({ client: h.client }, h.tenant.id, linked, { expiresAt: new Date(now.getTime() + 86_400_000).toISOString(), linkBase: `https://members.test/parties/${h.tenant.slug}/resign`, day: now.toISOString().slice(0, 10) });
      await save('status-resignation-link', sc.statusChangeWorkflowId('resignation-link', h.tenant.id, linked, now.toISOString().slice(0, 10)));
    }

    member = await active('resigned@example.np');
    applied = await startStatusChange(deps, context, member, { kind: 'resignation', by: head, via: 'staff', reasonCode: 'personal', note: null });
    await save('status-resignation', applied.workflowId);

    // The API refuses a death of a resigned member before starting anything; started anyway (as a
    // race would), the workflow's step refuses it.
    const refusedId = sc.statusChangeWorkflowId('death', h.tenant.id, member, 1);
    await h.client.workflow.start(sc.STATUS_CHANGE_WORKFLOW, { workflowId: refusedId, taskQueue: MEMBERSHIP_TASK_QUEUE, args: [{ tenantId: h.tenant.id, memberId: member, change: { kind: 'death', by: head, note: null } }] });
    await save('status-refused', refusedId);

    member = await active('died@example.np');
    applied = await startStatusChange(deps, context, member, { kind: 'death', by: head, note: null });
    await save('status-death', applied.workflowId);
  } finally {
    worker.shutdown();
    await running;
    await h.close();
  }
}

/**
 * The renewal workflow's paths (workflows/renewals/member-renewal.ts), each to its end: renewed
 * (after a payment refused for its amount), lapsed then reinstated, closed after the
 * reinstatement window, closed because the member left before the lapse, not due; and one run
 * of the daily renewal workflow. The worker's clock is moved to just before each date, as in
 * test/int/renewals.int.test.ts.
 */
async function recordRenewals(prefix = '', options: { masterKey?: MasterKey } = {}): Promise<void> {
  // The daily run's workflow has no patch of its own: recorded once, without a prefix.
  const names = ['renewal-renewed', 'renewal-lapsed-reinstated', 'renewal-closed', 'renewal-member-left', 'renewal-not-due', ...(prefix === '' ? ['renewal-run'] : [])];
  if (only.size > 0 && !names.some((name) => only.has(`${prefix}${name}`))) return;
  const h = await startLifecycleHarness({ paymentWindowMs: 60_000 }, options);
  const { worker, running } = await h.startWorker();
  const tenant = (await findTenant(h.db.owner, h.tenant.id))!;
  const setClock = (at: Date) => {
    const offset = at.getTime() - Date.now();
    h.deps.clock = () => new Date(Date.now() + offset);
  };
  // Each member is admitted today: the clock moved for one renewal would otherwise carry the next
  // member's term years ahead, past the end of the party calendar's table.
  const admitToday = (email: string) => {
    h.deps.clock = () => new Date();
    return admitMember(h, email);
  };
  const midnight = (day: string) => h.db.owner.oneFirst(sql.type(z.object({ at: z.number() }))`SELECT (${day}::date::timestamp AT TIME ZONE ${tenant.timeZone}) AS at`);
  const firstTermEnd = async (memberId: string) => (await asTest(h, (tx) => termsOf(tx, memberId)))[0]!.endsOn;
  const pay = (memberId: string, invoice: NonNullable<r.RenewalStatus['invoice']>, reference: string, amount = invoice.amountMinor) =>
    recordPayment({ pool: h.db.app, temporal: h.client }, { tenantId: h.tenant.id, actor: 'recorder' },
      { memberId, invoiceId: invoice.invoiceId, amount, currency: invoice.currency, provider: 'manual', reference, paidAt: new Date().toISOString() });
  const stage = async (workflowId: string, wanted: r.RenewalStatus['stage']) => {
    for (let i = 0; i < 300; i++) {
      const status = await h.client.workflow.getHandle(workflowId).query(r.renewalStatusQuery);
      if (status.stage === wanted) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${workflowId} never reached ${wanted}`);
  };
  const save = async (name: string, workflowId: string, outcome: string) => {
    const handle = h.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as { outcome?: string };
    if (result.outcome !== outcome && name !== 'renewal-run') throw new Error(`${prefix}${name} ended ${JSON.stringify(result)}, not ${outcome}`);
    await writeFile(path.join(HISTORIES_DIR, `${prefix}${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
    console.log(`recorded ${prefix}${name}`);
  };
  const renewal = async (memberId: string, clockAt: (endsOn: string) => Promise<number>, term = 1) => {
    setClock(new Date(await clockAt(await firstTermEnd(memberId))));
    await startRenewal(h.client, h.tenant.id, memberId, term, 'recorder');
    return r.renewalWorkflowId(h.tenant.id, memberId, term);
  };
  const beforeLapse = (seconds: number) => async (endsOn: string) => (await midnight(addDays(endsOn, tenant.gracePeriodDays))) - seconds * 1_000;
  try {
    let member = await admitToday('renewed@example.np');
    let id = await renewal(member, async (endsOn) => midnight(addDays(endsOn, -10)));
    let status = await stage(id, 'AwaitingRenewalPayment');
    await pay(member, status.invoice!, 'RENEW-WRONG', status.invoice!.amountMinor - 1).catch(() => undefined);
    await pay(member, status.invoice!, 'RENEW-1');
    await save('renewal-renewed', id, 'renewed');

    member = await admitToday('reinstated@example.np');
    id = await renewal(member, beforeLapse(3));
    status = await stage(id, 'TermLapsed');
    await pay(member, status.invoice!, 'REINSTATE-1');
    await save('renewal-lapsed-reinstated', id, 'reinstated');

    await changeTenantSettings(h.db.owner, h.tenant.slug, { reinstatementWindowDays: 0 }, 'recorder');
    member = await admitToday('closed@example.np');
    await save('renewal-closed', await renewal(member, beforeLapse(2)), 'closed');
    await changeTenantSettings(h.db.owner, h.tenant.slug, { reinstatementWindowDays: 365 }, 'recorder');

    member = await admitToday('left@example.np');
    id = await renewal(member, beforeLapse(6));
    await stage(id, 'AwaitingRenewalPayment');
    await startStatusChange({ client: h.client, pool: h.db.app }, { tenantId: h.tenant.id, actor: 'recorder' }, member,
      { kind: 'resignation', by: 'user:recorder', via: 'staff', reasonCode: 'personal', note: null });
    await save('renewal-member-left', id, 'closed');

    member = await admitToday('not-due@example.np');
    await save('renewal-not-due', await renewal(member, async (endsOn) => midnight(addDays(endsOn, -10)), 2), 'not_due');
    if (!names.includes('renewal-run')) return;

    await admitToday('due-in-run@example.np');
    const run = await h.client.workflow.start(r.RENEWAL_RUN_WORKFLOW, { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: 'renewal-run-recording', args: [] });
    const report = (await run.result()) as r.RenewalRunReport;
    if (report.started < 1) throw new Error(`the renewal run started nothing: ${JSON.stringify(report)}`);
    await save('renewal-run', run.workflowId, '');
  } finally {
    worker.shutdown();
    await running;
    await h.close();
  }
}

/**
 * Lifecycles on the code that tells the heads when an application arrives and keeps the memo's
 * stage current (patches heads-told-on-arrival and memo-follows-stage): one to its card, one
 * rejected, one withdrawn through the applicant's link while awaiting payment. Recorded under
 * names of their own: the histories recorded before the patches stay as they are.
 */
async function recordArrivalAndMemo(): Promise<void> {
  const scenarios: Record<string, { stage: m.MemberStageName; run: Scenario }> = {
    'arrival-told-card-issued': {
      stage: 'CardIssued',
      run: async (h) => {
        const { workflowId, invoice } = await approveAndAwaitInvoice(h, 'arrival-happy@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
        return workflowId;
      },
    },
    'arrival-told-rejected': {
      stage: 'Rejected',
      run: async (h) => {
        const { workflowId } = await registerMember(h, 'arrival-rejected@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.rejectUpdate, { by: `user:${h.headUserId}`, reason: 'not resident in the ward' });
        return workflowId;
      },
    },
    'arrival-told-withdrawn-awaiting-payment': {
      stage: 'Withdrawn',
      run: async (h) => {
        const { workflowId } = await approveAndAwaitInvoice(h, 'arrival-withdrawn@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.withdrawUpdate, { reason: 'applicant:changed_mind' });
        return workflowId;
      },
    },
  };
  await record({ paymentWindowMs: 60_000 }, scenarios);
}

/**
 * Lifecycles started with their application recorded by the registration request (patch
 * registered-by-request): no register Update, no recordApplication step. One to its card, one
 * whose phone was taken (the holder is told), one withdrawn while awaiting approval.
 */
async function recordRegisteredByRequest(): Promise<void> {
  const scenarios: Record<string, { stage: m.MemberStageName; run: Scenario }> = {
    'request-recorded-card-issued': {
      stage: 'CardIssued',
      run: async (h) => {
        const { workflowId, invoice } = await approveAndAwaitInvoice(h, 'request-recorded@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
        return workflowId;
      },
    },
    'request-recorded-phone-taken': {
      stage: 'RegistrationRefused',
      run: async (h) => {
        const holder = applicationFor(h, 'request-holder@example.np');
        await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, holder);
        const taken = { ...holder, email: 'request-not-the-holder@example.np' };
        return (await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id, taken, { idempotencyKey: 'request-refused-history-key' })).workflowId;
      },
    },
    'request-recorded-withdrawn-awaiting-approval': {
      stage: 'Withdrawn',
      run: async (h) => {
        const { workflowId } = await registerMember(h, 'request-withdrawn@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.withdrawUpdate, { reason: 'applicant:changed_mind' });
        return workflowId;
      },
    },
  };
  await record({ paymentWindowMs: 60_000 }, scenarios);
}

/**
 * Lifecycles whose payloads and failure messages the worker and client encrypted (the payload
 * codec, src/temporal/payload-codec.ts), under the fixed test key the replay test holds: one to
 * its card, one refused at registration. The histories recorded before the codec stay plaintext.
 */
async function recordEncrypted(): Promise<void> {
  // The same drives as two of the plaintext ones, so the two kinds of history can be compared.
  const scenarios = { 'encrypted-card-issued': quick['happy-path-card-issued']!, 'encrypted-registration-refused': quick['registration-refused-phone-taken']! };
  await record({ paymentWindowMs: 60_000 }, scenarios, { masterKey: recordedHistoriesMasterKey() });
}

/**
 * Lifecycles that read their settings in a local activity, and run the approval with its invoice
 * and the payment with the activation as one activity and one transaction each (patch lifecycle-merged-steps):
 * one to its card through the Updates (approve answering with the invoice), one approved and
 * paid by operators' signals, one whose first payment is refused (a reference that paid another
 * member) before its own is taken, one withdrawn while awaiting payment, one rejected.
 */
async function recordMergedSteps(): Promise<void> {
  const approved = async (h: LifecycleHarness, email: string) => {
    const { workflowId } = await registerMember(h, email);
    const { invoice } = await sendLifecycleUpdate(h.client, workflowId, m.approveUpdate, { by: `user:${h.headUserId}`, note: 'welcome' });
    if (!invoice) throw new Error(`the approval of ${workflowId} answered without the invoice`);
    return { workflowId, invoice };
  };
  const scenarios: Record<string, { stage: m.MemberStageName; run: Scenario }> = {
    'merged-steps-card-issued': {
      stage: 'CardIssued',
      run: async (h) => {
        const { workflowId, invoice } = await approved(h, 'merged-happy@example.np');
        await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, paymentFor(invoice));
        return workflowId;
      },
    },
    // The same drives as three of the first ones, so the two kinds of history can be compared.
    'merged-steps-approved-by-operator-signal': quick['approved-by-operator-signal']!,
    'merged-steps-payment-refused-then-paid': {
      stage: 'CardIssued',
      run: async (h) => {
        const first = await approved(h, 'merged-first-payer@example.np');
        await sendLifecycleUpdate(h.client, first.workflowId, m.paymentReceivedUpdate, { ...paymentFor(first.invoice), providerRef: 'merged-shared-receipt' });
        const { workflowId, invoice } = await approved(h, 'merged-second-payer@example.np');
        const reused = sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, { ...paymentFor(invoice), providerRef: 'merged-shared-receipt' });
        await reused.then(() => { throw new Error('a reference that paid another member was taken'); }, () => undefined);
        await sendLifecycleUpdate(h.client, workflowId, m.paymentReceivedUpdate, { ...paymentFor(invoice), providerRef: 'merged-own-receipt' });
        return workflowId;
      },
    },
    'merged-steps-withdrawn-awaiting-payment': quick['withdrawn-awaiting-payment']!,
    'merged-steps-rejected': quick.rejected!,
  };
  // Encrypted, as every lifecycle's payloads are now, under the fixed test key the replay test holds.
  await record({ paymentWindowMs: 60_000 }, scenarios, { masterKey: recordedHistoriesMasterKey() });
}

/**
 * Lifecycles that render the card and send every email on the card task queue (patch
 * cards-own-queue): one that ends holding its card, one refused because the phone was taken (the
 * holder's notice), one rejected, one whose invoice lapsed, one escalated (the reminder and the
 * escalation to the parent committee's heads).
 */
async function recordCardQueue(): Promise<void> {
  const scenarios: typeof quick = {
    'card-queue-card-issued': quick['happy-path-card-issued']!,
    'card-queue-registration-refused': quick['registration-refused-phone-taken']!,
    'card-queue-rejected': quick.rejected!,
    'card-queue-expired-unpaid': quick['expired-unpaid']!,
  };
  const masterKey = recordedHistoriesMasterKey();
  await record({ paymentWindowMs: 2_000 }, scenarios, { masterKey });
  await record({ approvalReminderAfterMs: 1_000, approvalEscalationAfterMs: 2_000, paymentWindowMs: 60_000 }, { 'card-queue-escalated-then-approved-by-signal': escalated['escalated-then-approved-by-signal']! }, { masterKey });
}

async function main(): Promise<void> {
  const servers = await startTestServers(true);
  Object.assign(process.env, servers.env);
  try {
    await mkdir(HISTORIES_DIR, { recursive: true });
    await record({ paymentWindowMs: 2_000 }, quick);
    await record({ approvalReminderAfterMs: 1_000, approvalEscalationAfterMs: 2_000, paymentWindowMs: 60_000 }, escalated);
    await recordChainAnchoring();
    await recordTransfers();
    await recordStatusChanges();
    await recordRenewals();
    await recordArrivalAndMemo();
    await recordGatewayPayments();
    await recordRegisteredByRequest();
    await recordEncrypted();
    await recordMergedSteps();
    await recordCardQueue();
    // Renewals, status changes and transfers on the card task queue (their *-cards-own-queue patches).
    const masterKey = recordedHistoriesMasterKey();
    await recordTransfers('card-queue-', { masterKey });
    await recordStatusChanges('card-queue-', { masterKey });
    await recordRenewals('card-queue-', { masterKey });
  } finally {
    await servers.stop();
  }
}

/**
 * The payment verification workflow's paths (workflows/payments/payment-verification.ts)
 * against the gateway simulators: recorded after an outage (eSewa), held pending then recorded
 * (Khalti), canceled, expired, and paid twice into the reconciliation queue.
 */
async function recordGatewayPayments(): Promise<void> {
  const names = ['payment-recorded-after-outage', 'payment-pending-then-recorded', 'payment-canceled', 'payment-expired', 'payment-paid-twice', 'payment-reconciliation-run'];
  if (only.size > 0 && !names.some((name) => only.has(name))) return;
  const h = await startLifecycleHarness({ paymentWindowMs: 600_000 });
  const sims = await startGatewaySimulators();
  const { worker, running } = await h.startWorker();
  const deps = { pool: h.db.app, temporal: h.client, keyring: h.keyring };
  const context = { tenantId: h.tenant.id, actor: 'recorder' };
  await asTest(h, async (tx) => {
    await setGatewayAccount(tx, h.keyring, h.tenant.id, { gateway: 'esewa', environment: 'simulator', baseUrl: sims.esewaBaseUrl, merchantCode: 'EPAYTEST', secret: '8gBm/:&EnhH.1/q' });
    await setGatewayAccount(tx, h.keyring, h.tenant.id, { gateway: 'khalti', environment: 'simulator', baseUrl: sims.khaltiBaseUrl, secret: KHALTI_SIMULATOR_SECRET_KEY });
  });
  const urls = () => ({ success: 'https://members.test/return', failure: 'https://members.test/return', website: 'https://members.test' });
  const attempt = async (email: string, gateway: 'esewa' | 'khalti') => {
    const { workflowId } = await approveAndAwaitInvoice(h, email);
    const memberId = workflowId.slice(`member-${h.tenant.id}-`.length);
    const started = await startPaymentAttempt(deps, context, { memberId, gateway, urls, now: new Date() });
    if (gateway === 'esewa') {
      const form = await fetch(started.started.redirect.url, { method: 'POST', body: new URLSearchParams(started.started.redirect.fields!), redirect: 'manual' });
      await form.body?.cancel();
    }
    return { memberId, attemptId: started.attempt.id, reference: started.started.reference, expiresAt: new Date(started.attempt.expiresAt).toISOString() };
  };
  const nudge = (a: { memberId: string; attemptId: string; expiresAt: string }) => verifyAttempt(h.client, { tenantId: h.tenant.id, ...a });
  const save = async (name: string, a: { attemptId: string }, outcome: string) => {
    const handle = h.client.workflow.getHandle(paymentWorkflowId(h.tenant.id, a.attemptId));
    const result = (await handle.result()) as PaymentVerificationOutcome;
    if (result.outcome !== outcome) throw new Error(`${name} ended ${JSON.stringify(result)}, not ${outcome}`);
    // Only the histories asked for are written: one recorded before is never recorded again.
    if (only.size > 0 && !only.has(name)) return;
    await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
    console.log(`recorded ${name}`);
  };
  try {
    let a = await attempt('paid-esewa@example.np', 'esewa');
    sims.esewa.force(a.reference, 'COMPLETE', 'EPAYTEST');
    sims.esewa.faults.add({ mode: 'unavailable', count: 2 });
    await nudge(a);
    await save('payment-recorded-after-outage', a, 'recorded');

    a = await attempt('pending-khalti@example.np', 'khalti');
    sims.khalti.force(a.reference, 'Pending');
    await nudge(a);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    sims.khalti.force(a.reference, 'Completed');
    await nudge(a);
    await save('payment-pending-then-recorded', a, 'recorded');

    a = await attempt('canceled-khalti@example.np', 'khalti');
    sims.khalti.force(a.reference, 'User canceled');
    await nudge(a);
    await save('payment-canceled', a, 'canceled');

    a = await attempt('expired-khalti@example.np', 'khalti');
    sims.khalti.expire(a.reference);
    await nudge(a);
    await save('payment-expired', a, 'expired');

    const first = await attempt('twice@example.np', 'esewa');
    const second = { ...first, ...(await (async () => {
      const started = await startPaymentAttempt(deps, context, { memberId: first.memberId, gateway: 'khalti', urls, now: new Date() });
      return { attemptId: started.attempt.id, reference: started.started.reference, expiresAt: new Date(started.attempt.expiresAt).toISOString() };
    })()) };
    sims.esewa.force(first.reference, 'COMPLETE', 'EPAYTEST');
    await nudge(first);
    await h.client.workflow.getHandle(paymentWorkflowId(h.tenant.id, first.attemptId)).result();
    sims.khalti.force(second.reference, 'Completed');
    await nudge(second);
    await save('payment-paid-twice', second, 'reconciliation');

    // The daily reconciliation run over today's attempts, one of them still being verified.
    await attempt('run-verifying@example.np', 'khalti');
    const run = await h.client.workflow.start(PAYMENT_RECONCILIATION_WORKFLOW, { taskQueue: MEMBERSHIP_TASK_QUEUE, workflowId: 'payment-reconciliation-recording',
      args: [{ day: dateIn(h.tenant.timeZone, new Date()) }] });
    const report = (await run.result()) as ReconciliationRunReport;
    if (report.attempts < 6 || report.unreachable < 1) throw new Error(`the reconciliation run compared too little: ${JSON.stringify(report)}`);
    if (only.size === 0 || only.has('payment-reconciliation-run')) await writeFile(path.join(HISTORIES_DIR, 'payment-reconciliation-run.json'), `${historyToJSON(await run.fetchHistory())}\n`);
    if (only.size === 0 || only.has('payment-reconciliation-run')) console.log('recorded payment-reconciliation-run');
  } finally {
    worker.shutdown();
    await running;
    await sims.close();
    await h.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
