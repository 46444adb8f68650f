import { condition, defineQuery, defineUpdate, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { GeographyPath, MemberStage, StageEnteredAt } from '../../src/temporal/search-attributes.ts';
import type * as activities from './activities.ts';

/**
 * The baseline for lifecycle throughput: the member lifecycle's shape with activities that do
 * nothing. The same three updates, the same ten activity calls in the same order, the same
 * timers (as conditions with a timeout), the same search-attribute updates at each stage and
 * the same status query, so the ratio measures what the product's activities cost.
 */
const a = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

export const registerUpdate = defineUpdate<{ stage: string }, [unknown]>('register');
export const approveUpdate = defineUpdate<{ stage: string }, [unknown]>('approve');
export const paymentReceivedUpdate = defineUpdate<{ stage: string }, [unknown]>('paymentReceived');
export const statusQuery = defineQuery<{ stage: string; invoice: { invoiceId: string } | null }>('status');

export async function noopLifecycle(): Promise<string> {
  let stage = 'Registered';
  let approved = false;
  let paid = false;
  let invoice: { invoiceId: string } | null = null;
  const enter = (next: string) => {
    stage = next;
    upsertSearchAttributes([{ key: MemberStage, value: next }, { key: StageEnteredAt, value: new Date() }]);
  };
  setHandler(registerUpdate, async () => {
    await a.recordApplication();
    enter('AwaitingApproval');
    return { stage };
  });
  setHandler(statusQuery, () => ({ stage, invoice }));
  setHandler(approveUpdate, async () => {
    approved = true;
    await condition(() => stage !== 'AwaitingApproval');
    return { stage };
  });
  setHandler(paymentReceivedUpdate, async () => {
    paid = true;
    await condition(() => stage !== 'AwaitingPayment');
    return { stage };
  });
  await condition(() => stage === 'AwaitingApproval', '1 hour');
  upsertSearchAttributes([{ key: GeographyPath, value: '1.2.3' }]);
  await a.loadLifecycleSettings();
  await condition(() => approved, '1 hour');
  await a.recordApproval();
  enter('Approved');
  const mails = [a.sendMemberEmail()];
  await a.issueInvoice();
  invoice = { invoiceId: 'noop' };
  enter('AwaitingPayment');
  mails.push(a.sendMemberEmail());
  await condition(() => paid, '1 hour');
  await a.recordPayment();
  enter('Paid');
  await a.activateMember();
  enter('Active');
  await a.issueIdCard();
  enter('CardIssued');
  mails.push(a.sendMemberEmail());
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
