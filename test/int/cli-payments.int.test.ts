import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { readStream } from '../../src/events/event-store.ts';
import { sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { approveUpdate } from '../../src/members/lifecycle-contract.ts';
import { gatewayAccount } from '../../src/payments/gateway-accounts.ts';
import { addReconciliationItem } from '../../src/payments/reconciliation.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { runOperatorCli, type CliRun } from '../support/cli-process.ts';
import { makeTenant } from '../support/fixtures.ts';
import { asTest, awaitInvoice, lifecycleHandle, registerMember, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';

/** The operator's payment commands as an operator runs them, on real Postgres (the application role) and Temporal. */
const MASTER_KEY = randomBytes(32).toString('base64');
let h: LifecycleHarness;
let worker: Worker;
let running: Promise<void>;
let dataDir: string;
/** A party whose keys the CLI's master key wraps (the harness's own party has a key of its own). */
let party: Tenant;
let osUser: string;

beforeAll(async () => {
  // The worker and the CLI share the master key, as in production: the CLI's Update to a lifecycle is encrypted under it.
  h = await startLifecycleHarness({ paymentWindowMs: 3_600_000 }, { masterKey: masterKeyFromBase64(MASTER_KEY) });
  ({ worker, running } = await h.startWorker());
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'cli-payments-'));
  party = await makeTenant(h.db.app, new Keyring(masterKeyFromBase64(MASTER_KEY)), `gw-${randomBytes(3).toString('hex')}`, 'GW');
  osUser = os.userInfo().username;
});
afterAll(async () => {
  worker.shutdown();
  await running;
  await h.close();
  await rm(dataDir, { recursive: true, force: true });
});

const cli = (args: string[], input = ''): Promise<CliRun> => runOperatorCli(args,
  { DATA_DIR: dataDir, DATABASE_URL: h.db.appUrl, MASTER_KEY, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS! }, input);
const accountOf = (gateway: 'esewa' | 'khalti') => withTenant(h.db.app, { tenantId: party.id, actor: 'test' }, (tx) =>
  gatewayAccount(tx, new Keyring(masterKeyFromBase64(MASTER_KEY)), gateway));

test('gateway:set takes the secret from stdin or a file, never a flag; replaces the account in place; gateway:list shows no secret', async () => {
  const set = await cli(['gateway:set', '--tenant', party.slug, '--gateway', 'khalti', '--environment', 'simulator', '--base-url', 'http://127.0.0.1:9/'], 'live_secret_key_first\n');
  expect(set).toMatchObject({ code: 0, stderr: '' });
  expect(set.stdout).toContain(`${party.slug} takes khalti payments through the simulator at http://127.0.0.1:9/`);
  const first = await accountOf('khalti');
  expect(first).toMatchObject({ gateway: 'khalti', environment: 'simulator', baseUrl: 'http://127.0.0.1:9/', merchantCode: null, secret: 'live_secret_key_first' });

  const file = path.join(dataDir, 'esewa-secret');
  await writeFile(file, '8gBm/:&EnhH.1/q\n', { mode: 0o600 });
  expect(await cli(['gateway:set', '--tenant', party.slug, '--gateway', 'esewa', '--environment', 'sandbox', '--merchant-code', 'EPAYTEST', '--secret-file', file]))
    .toMatchObject({ code: 0, stderr: '' });
  expect(await accountOf('esewa')).toMatchObject({ environment: 'sandbox', baseUrl: null, merchantCode: 'EPAYTEST', secret: '8gBm/:&EnhH.1/q' });

  // Replaced: the same row, a new secret and environment.
  expect((await cli(['gateway:set', '--tenant', party.slug, '--gateway', 'khalti', '--environment', 'production'], 'live_secret_key_second')).code).toBe(0);
  expect(await accountOf('khalti')).toMatchObject({ id: first!.id, environment: 'production', baseUrl: null, secret: 'live_secret_key_second' });

  const list = await cli(['gateway:list', '--tenant', party.slug]);
  expect(list).toMatchObject({ code: 0, stderr: '' });
  expect(list.stdout.split('\n').slice(1, 3).map((l) => l.split(/\s+/))).toEqual([['esewa', 'sandbox'], ['khalti', 'production']]);
  const trail = await withTenant(h.db.app, { tenantId: party.id, actor: 'test' }, (tx) => tx.anyFirst(sql.type(z.object({ row: z.string() }))`
    SELECT coalesce(old_row::text, '') || coalesce(new_row::text, '') AS row FROM audit_log WHERE table_name = 'payment_gateway_accounts'`));
  expect(trail.length).toBe(3);
  for (const text of [list.stdout, ...trail]) expect(text).not.toMatch(/live_secret_key|8gBm/);
});

test.each([
  ['a secret given as a flag', ['--gateway', 'khalti', '--environment', 'sandbox', '--secret', 'live_secret_key_x'], 'secret', /Unknown option '--secret'/],
  ['eSewa without its product code', ['--gateway', 'esewa', '--environment', 'sandbox'], 'live_secret_key_x', /^--merchant-code: /],
  ['a simulator without its address', ['--gateway', 'khalti', '--environment', 'simulator'], 'live_secret_key_x', /^--base-url: /],
  ['an unknown gateway', ['--gateway', 'paypal', '--environment', 'sandbox'], 'live_secret_key_x', /^--gateway: one of esewa, khalti/],
  ['an empty secret', ['--gateway', 'khalti', '--environment', 'sandbox'], '\n', /^the secret: /],
  ['a secret file that is not there', ['--gateway', 'khalti', '--environment', 'sandbox', '--secret-file', '/nonexistent/secret'], '', /^--secret-file: cannot read/],
])('gateway:set refuses %s (exit 2, naming it) and changes nothing', async (_name, args, input, message) => {
  const before = await accountOf('khalti');
  const res = await cli(['gateway:set', '--tenant', party.slug, ...args], input);
  expect(res).toMatchObject({ code: 2, stdout: '' });
  expect(res.stderr).toMatch(message);
  expect(await accountOf('khalti')).toEqual(before);
});

const queued = (amountMinor: number) => asTest(h, (tx) => addReconciliationItem(tx, {
  tenantId: h.tenant.id, gateway: 'khalti', reference: `pidx-${randomUUID()}`, attemptId: null, memberId: null, amountMinor, currency: 'NPR',
  reason: 'invoice_not_open', detail: 'paid after the attempt expired',
}));
async function awaitingPayment() {
  const member = await registerMember(h, `${randomUUID()}@example.np`);
  await sendLifecycleUpdate(h.client, member.workflowId, approveUpdate, { by: 'user:test' });
  return { ...member, invoice: await awaitInvoice(lifecycleHandle(h, member.workflowId)) };
}

test('reconciliation:list, attach and refund: the decision recorded as the operator, the payment handed to the lifecycle', async () => {
  const member = await awaitingPayment();
  const toAttach = await queued(member.invoice.amountMinor);
  const toRefund = await queued(12_345);
  const open = await cli(['reconciliation:list', '--tenant', h.tenant.slug, '--status', 'open']);
  expect(open).toMatchObject({ code: 0, stderr: '' });
  expect(open.stdout).toContain(`${toAttach.id} `);
  expect(open.stdout).toContain(`${toRefund.reference}  12345 NPR  invoice_not_open  open`);

  const wrong = await cli(['reconciliation:attach', '--tenant', h.tenant.slug, '--item', toRefund.id, '--invoice', member.invoice.invoiceId, '--note', 'wrong']);
  expect(wrong).toMatchObject({ code: 1, stdout: '' });
  expect(wrong.stderr).toMatch(/^--invoice: PAYMENT_AMOUNT_MISMATCH: /);

  const attached = await cli(['reconciliation:attach', '--tenant', h.tenant.slug, '--item', toAttach.id, '--invoice', member.invoice.invoiceId, '--note', 'paid late, member confirmed']);
  expect(attached).toMatchObject({ code: 0, stderr: '' });
  expect((await lifecycleHandle(h, member.workflowId).result()).stage).toBe('CardIssued');
  const payment = await asTest(h, (tx) => tx.one(sql.type(z.object({ id: z.string(), provider: z.string(), reference: z.string() }))`
    SELECT id, provider, provider_ref AS reference FROM payments WHERE member_id = ${member.memberId}`));
  expect(payment).toMatchObject({ provider: 'khalti', reference: toAttach.reference });
  expect(attached.stdout).toContain(`payment ${payment.id}`);

  const refunded = await cli(['reconciliation:refund', '--tenant', h.tenant.slug, '--item', toRefund.id, '--note', 'not a member of ours']);
  expect(refunded).toMatchObject({ code: 0, stderr: '' });
  expect(refunded.stdout).toContain("Refund it in khalti's merchant portal");
  const again = await cli(['reconciliation:refund', '--tenant', h.tenant.slug, '--item', toRefund.id, '--note', 'twice']);
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('RECONCILIATION_DECIDED') });

  const events = await asTest(h, async (tx) => [...await readStream(tx, toAttach.id), ...await readStream(tx, toRefund.id)]);
  expect(events.map((e) => [e.type, e.payload])).toEqual([
    ['ReconciliationAttached', { paymentId: payment.id, invoiceId: member.invoice.invoiceId, by: `cli:${osUser}` }],
    ['ReconciliationRefundMarked', { by: `cli:${osUser}` }],
  ]);
  const decided = await cli(['reconciliation:list', '--tenant', h.tenant.slug]);
  expect(decided.stdout).toContain(`attached by cli:${osUser}`);
  expect(decided.stdout).toContain(`refund by cli:${osUser}`);
  const unknown = await cli(['reconciliation:refund', '--tenant', h.tenant.slug, '--item', randomUUID(), '--note', 'x']);
  expect(unknown).toMatchObject({ code: 1, stderr: expect.stringMatching(/^--item: NOT_FOUND/) });
  expect((await cli(['reconciliation:list', '--tenant', h.tenant.slug, '--status', 'closed'])).stderr).toMatch(/^--status: one of open, attached, refund/);
}, 60_000);
