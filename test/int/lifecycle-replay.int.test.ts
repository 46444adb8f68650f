/**
 * Replays every recorded lifecycle history in test/fixtures/histories against the current
 * workflow code: a change that would break lifecycles already running fails here. The
 * histories are recorded once, from a real worker and dev server, with
 *
 *   node_modules/.bin/node test/support/record-histories.ts
 *
 * After an intended change (guarded with patched()), keep the old files, renamed, while
 * lifecycles started under them may still run, and record new ones; never re-record just to
 * make this test pass.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { projectRoot } from '../../src/paths.ts';
import { EncryptionCodec, temporalDataConverter } from '../../src/temporal/payload-codec.ts';
import { recordedHistoriesMasterKey } from '../support/fixtures.ts';
import { payloadsIn, payloadText } from '../support/temporal-payloads.ts';
import { tracingWorkerOptions } from '../../src/temporal/tracing-interceptors.ts';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Installed already by another file in this process.
}

const HISTORIES_DIR = path.join(projectRoot, 'test', 'fixtures', 'histories');
const files = readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json')).sort();

/**
 * Reads the ProtoJSON history files `historyFromJSON` (@temporalio/common) reads. That function
 * fails in this install: @temporalio/common and @temporalio/proto get separate copies of
 * protobufjs 8, and protojson rejects the other copy's types ("type must be a Type"); so this
 * uses protojson from the copy @temporalio/proto itself loads.
 */
function historyFromFile(file: string): History {
  const protoRequire = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
  const { fromJson } = protoRequire('protobufjs/ext/protojson') as { fromJson: (type: unknown, json: unknown, options: object) => History | null };
  const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');
  const history = fromJson(historyType, JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')), { ignoreUnknownFields: true });
  if (!history?.events?.length) throw new Error(`${file} holds no history events`);
  return history;
}

test('the recorded histories cover every way a lifecycle ends', () => {
  expect(files).toEqual(expect.arrayContaining([
    'approved-by-operator-signal.json', 'escalated-then-approved-by-signal.json', 'expired-unpaid.json', 'happy-path-card-issued.json', 'rejected.json', 'withdrawn-awaiting-payment.json',
    // The transfer workflow's paths, and the link workflow.
    'transfer-accepted-after-window.json', 'transfer-approved-by-operator-signal.json', 'transfer-approved.json', 'transfer-refused.json', 'transfer-link.json',
    // Status changes after admission (workflows/members/status-change.ts).
    'status-death.json', 'status-expulsion-confirmed.json', 'status-refused.json', 'status-resignation.json', 'status-suspension-ends.json', 'status-suspension-lifted-early.json',
    // Renewal, lapse and reinstatement (workflows/renewals/), and the daily run.
    'renewal-renewed.json', 'renewal-lapsed-reinstated.json', 'renewal-closed.json', 'renewal-member-left.json', 'renewal-not-due.json', 'renewal-run.json',
    // Lifecycles that told the heads on arrival and keep the memo's stage (patches heads-told-on-arrival, memo-follows-stage).
    'arrival-told-card-issued.json', 'arrival-told-rejected.json', 'arrival-told-withdrawn-awaiting-payment.json',
    // Lifecycles whose application the registration request recorded before they started (patch registered-by-request).
    'request-recorded-card-issued.json', 'request-recorded-phone-taken.json', 'request-recorded-withdrawn-awaiting-approval.json',
    // Payments through eSewa and Khalti, verified by their own workflow (workflows/payments/payment-verification.ts).
    'payment-recorded-after-outage.json', 'payment-pending-then-recorded.json', 'payment-canceled.json', 'payment-expired.json', 'payment-paid-twice.json',
    // The daily reconciliation run (workflows/payments/reconciliation-run.ts).
    'payment-reconciliation-run.json',
    // Recorded with the payload codec on: every payload and failure message encrypted (src/temporal/payload-codec.ts).
    'encrypted-card-issued.json', 'encrypted-registration-refused.json',
    // The settings read in a local activity, approval with invoice and payment with activation merged (patch lifecycle-merged-steps).
    'merged-steps-card-issued.json', 'merged-steps-approved-by-operator-signal.json', 'merged-steps-payment-refused-then-paid.json',
    'merged-steps-withdrawn-awaiting-payment.json', 'merged-steps-rejected.json',
    // The card and every email on the card task queue (patch cards-own-queue).
    'card-queue-card-issued.json', 'card-queue-registration-refused.json', 'card-queue-rejected.json', 'card-queue-expired-unpaid.json',
    'card-queue-escalated-then-approved-by-signal.json',
    // Renewals, status changes and transfers with their card and emails on the card task queue (patches *-cards-own-queue).
    ...['transfer-approved', 'transfer-refused', 'transfer-accepted-after-window', 'transfer-approved-by-operator-signal', 'transfer-link',
      'status-suspension-ends', 'status-suspension-lifted-early', 'status-expulsion-confirmed', 'status-resignation', 'status-death', 'status-refused',
      'status-resignation-link', 'renewal-renewed', 'renewal-lapsed-reinstated', 'renewal-closed', 'renewal-member-left', 'renewal-not-due'].map((name) => `card-queue-${name}.json`),
  ]));
  for (const file of files) {
    const last = historyFromFile(file).events?.at(-1);
    expect([file, last?.workflowExecutionCompletedEventAttributes ? 'completed' : 'not completed']).toEqual([file, 'completed']);
  }
});

test('a history recorded on the card queue schedules every card and email there; one recorded before, on the membership queue', () => {
  const cardWork = new Set(['issueIdCard', 'sendMemberEmail', 'notifyContactHolder', 'notifyCommitteeHeads', 'sendResignationLink', 'notifyTransferCommittees', 'sendTransferEmail', 'sendTransferLinkEmail']);
  const scheduled = files.flatMap((file) => (historyFromFile(file).events ?? []).flatMap((event) => {
    const attributes = event.activityTaskScheduledEventAttributes;
    const activity = attributes?.activityType?.name ?? '';
    return cardWork.has(activity) ? [{ file, activity, queue: attributes?.taskQueue?.name }] : [];
  }));
  const onCardQueue = (file: string) => file.startsWith('card-queue-');
  expect(scheduled.filter((s) => s.queue !== (onCardQueue(s.file) ? 'membership-cards' : 'membership'))).toEqual([]);
  // Each workflow type's card-queue histories schedule card work at all: the check above is not vacuous.
  for (const kind of ['card-queue-card-issued', 'card-queue-transfer-', 'card-queue-status-', 'card-queue-renewal-']) {
    expect([kind, scheduled.filter((s) => s.file.startsWith(kind)).length > 0]).toEqual([kind, true]);
  }
  expect(new Set(scheduled.filter((s) => onCardQueue(s.file)).map((s) => s.activity))).toEqual(cardWork);
});

test('every recorded history replays against the current workflow code without a determinism error', async () => {
  const histories = files.map((file) => ({ workflowId: file, history: historyFromFile(file) }));
  const results: ReplayResult[] = [];
  // The worker's codec under the key the encrypted histories were recorded with; it passes the plaintext payloads of the older ones through.
  const dataConverter = temporalDataConverter(new EncryptionCodec(recordedHistoriesMasterKey()), { failures: true });
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, dataConverter, sinks: tracingWorkerOptions().sinks }, histories)) {
    results.push(result);
  }
  expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(files.map((file) => [file, undefined]));
}, 60_000);

test('the histories recorded with the codec hold every payload encrypted but search attributes and patch markers, and need the codec to replay', async () => {
  for (const file of ['encrypted-card-issued.json', 'encrypted-registration-refused.json']) {
    const payloads = payloadsIn(historyFromFile(file).events);
    const plain = payloads.filter((p) => p.encoding !== 'binary/encrypted');
    expect(payloads.filter((p) => p.encoding === 'binary/encrypted').length).toBeGreaterThan(5);
    // What Temporal never hands the codec: indexed search attributes (ids, stage, time, area) and the SDK's patch markers.
    expect(plain.filter((p) => !/\.searchAttributes\.indexedFields\.\w+$|\.markerRecordedEventAttributes\.details\.patch-data\./.test(p.at))).toEqual([]);
    expect(payloads.map((p) => payloadText(p.payload)).join('\n')).not.toMatch(/Ram Thapa|राम थापा|example\.np|fullName/);
  }
  // Control: the same drive recorded before the codec holds the applicant's name in the clear.
  expect(payloadsIn(historyFromFile('happy-path-card-issued.json').events).map((p) => payloadText(p.payload)).join('\n')).toMatch(/Ram Thapa/);
  // Without the key, the recorded payloads do not even reach the workflow code.
  const histories = ['encrypted-card-issued.json'].map((file) => ({ workflowId: file, history: historyFromFile(file) }));
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, sinks: tracingWorkerOptions().sinks }, histories)) results.push(result);
  expect(results.map((r) => r.error === undefined)).toEqual([false]);
}, 60_000);
