import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities.ts';

/**
 * The baseline for lifecycle throughput: the member lifecycle's shape (the same three
 * updates, the same ten activity calls in the same order) with activities that do nothing.
 */
const a = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

export const registerUpdate = defineUpdate<{ stage: string }, [unknown]>('register');
export const approveUpdate = defineUpdate<{ stage: string }, [unknown]>('approve');
export const paymentReceivedUpdate = defineUpdate<{ stage: string }, [unknown]>('paymentReceived');

export async function noopLifecycle(): Promise<string> {
  let stage = 'Registered';
  let approved = false;
  let paid = false;
  setHandler(registerUpdate, async () => {
    await a.recordApplication();
    stage = 'AwaitingApproval';
    return { stage };
  });
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
  await condition(() => stage === 'AwaitingApproval');
  await a.loadLifecycleSettings();
  await condition(() => approved);
  await a.recordApproval();
  stage = 'Approved';
  const mails = [a.sendMemberEmail()];
  await a.issueInvoice();
  stage = 'AwaitingPayment';
  mails.push(a.sendMemberEmail());
  await condition(() => paid);
  await a.recordPayment();
  stage = 'Paid';
  await a.activateMember();
  await a.issueIdCard();
  mails.push(a.sendMemberEmail());
  await Promise.all(mails);
  return 'CardIssued';
}
