import type { Worker } from '@temporalio/worker';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import type { memberLifecycle } from '../../workflows/members/member-lifecycle.ts';
import { memberRow, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.ts';

let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let revived: SmtpCapture | undefined;

beforeAll(async () => {
  h = await startLifecycleHarness();
  ({ worker, running } = await h.startWorker());
});
afterAll(async () => {
  worker.shutdown();
  await running;
  await revived?.stop();
  await h.close();
});

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('with SMTP down the membership still activates, and the emails go out when it returns', async () => {
  const port = Number(new URL(h.smtp.url).port);
  await h.smtp.stop();
  const registered = await registerApplicant({ client: h.client, pool: h.db.app, keyring: h.keyring }, h.tenant.id,
    ApplicationSchema.parse({ fullNameEn: 'Gita Rai', gender: 'F', phone: '9861234567', email: 'gita@example.np', wardId: h.geo.wardIds[0] }));
  const handle = h.client.workflow.getHandle<typeof memberLifecycle>(registered.workflowId);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.approveUpdate, { by: `user:${h.headUserId}` });
  const invoice = await until(async () => (await handle.query(m.statusQuery)).invoice ?? undefined);
  await sendLifecycleUpdate(h.client, registered.workflowId, m.paymentReceivedUpdate, {
    invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: invoice.currency, provider: 'esewa', providerRef: 'outage-1', paidAt: new Date().toISOString(),
  });
  await until(async () => ((await handle.query(m.statusQuery)).stage === 'CardIssued' ? true : undefined));
  expect(await memberRow(h, registered.memberId)).toMatchObject({ status: 'active' });
  expect((await handle.describe()).status.name).toBe('RUNNING');

  revived = await startSmtpCapture(port);
  const mails = await revived.waitFor((mail) => mail.to !== undefined && JSON.stringify(mail.to).includes('gita@example.np'), 3, 90_000);
  const subjects = mails.map((mail) => mail.subject ?? '');
  expect(subjects.some((s) => s.includes('membership is active'))).toBe(true);
  expect((await handle.result()).stage).toBe('CardIssued');
}, 120_000);
