import { condition, defineQuery, defineUpdate, patched, proxyActivities, proxyLocalActivities, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { GeographyPath, MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';
import type * as activities from './activities.ts';
import { NOOP_CARDS_QUEUE } from './queues.ts';

/**
 * The baseline for lifecycle throughput: the member lifecycle's shape (as it runs since the
 * lifecycle-merged-steps patch) with activities that do nothing. Started as the registration
 * request starts a lifecycle (search attributes, memo), the same patch markers, the same two
 * updates (approve answering with the invoice), the same seven activities (four emails, the
 * approval with its invoice, the payment with the activation, the card; the card and the emails on a task queue of their
 * own, as since the cards-own-queue patch) and one local activity
 * (the settings) in the same order, the same timers (as conditions with a
 * timeout), the same search-attribute and memo updates at each stage and the same status query,
 * so the ratio measures what the product's activities cost.
 */
const a = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
const cards = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute', taskQueue: NOOP_CARDS_QUEUE });

export const approveUpdate = defineUpdate<{ stage: string; invoice: { invoiceId: string } | null }, [unknown]>('approve');
export const paymentReceivedUpdate = defineUpdate<{ stage: string }, [unknown]>('paymentReceived');
export const statusQuery = defineQuery<{ stage: string; invoice: { invoiceId: string } | null }>('status');

/** The patch ids the lifecycle records a marker for, one by one (src/temporal/workflow-patches.ts). */
const MARKERS = ['noop-merged-steps', 'noop-cards-own-queue', 'noop-registered-by-request', 'noop-memo-follows-stage', 'noop-heads-told-on-arrival'];

export async function noopLifecycle(): Promise<string> {
  let stage = 'Registered';
  let approved = false;
  let paid = false;
  let invoice: { invoiceId: string } | null = null;
  for (const marker of MARKERS) patched(marker);
  const enter = (next: string) => {
    stage = next;
    upsertSearchAttributes([{ key: MemberStage, value: next }, { key: StageEnteredAt, value: new Date() }]);
    upsertMemo({ stage: next });
  };
  // As the lifecycle: the stage the request recorded, before any handler (an Update may arrive with the start).
  enter('AwaitingApproval');
  setHandler(statusQuery, () => ({ stage, invoice }));
  setHandler(approveUpdate, async () => {
    approved = true;
    await condition(() => stage !== 'AwaitingApproval' && stage !== 'Approved');
    return { stage, invoice };
  });
  setHandler(paymentReceivedUpdate, async () => {
    paid = true;
    await condition(() => stage !== 'AwaitingPayment');
    return { stage };
  });
  upsertSearchAttributes([{ key: GeographyPath, value: '1.2.3' }]);
  const mails = [cards.sendMemberEmail()];
  await local.loadLifecycleSettings();
  await condition(() => approved, '1 hour');
  const issued = await a.approveAndInvoice();
  enter('Approved');
  mails.push(cards.sendMemberEmail());
  invoice = issued;
  enter('AwaitingPayment');
  mails.push(cards.sendMemberEmail());
  await condition(() => paid, '1 hour');
  await a.payAndActivate();
  enter('Paid');
  enter('Active');
  await cards.issueIdCard();
  enter('CardIssued');
  mails.push(cards.sendMemberEmail());
  await Promise.all(mails);
  return 'CardIssued';
}

/**
 * The baseline for the daily renewal run's starts: a workflow that does nothing, started with the
 * same options as a renewal (id, reuse policy, input, search attributes), so what the baseline
 * measures is Temporal's cost of a start.
 */
export async function noopRenewal(): Promise<void> {
  // nothing
}
