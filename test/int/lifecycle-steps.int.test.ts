import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { createMemberActivities, type StepContext } from '../../activities/members/index.ts';
import { peekCardToken } from '../../src/cards/card-token.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import type { ObjectStorage } from '../../src/storage/object-storage.ts';
import { decodeQr } from '../support/card-qr.ts';
import { applicationFor, startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';
import { tokenFromScan } from '../../src/cards/card-verify-url.ts';

/**
 * The lifecycle's activities called as a worker would, attempt by attempt: each step's key
 * must make a retry or an overlapping attempt change nothing, and never stand for another step.
 */
let h: LifecycleHarness;
beforeAll(async () => {
  h = await startLifecycleHarness();
});
afterAll(() => h.close());

const as = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(h.db.app, { tenantId: h.tenant.id, actor: 'test' }, work);

/** A registered member and the step context of its (pretend) lifecycle. */
async function registered(activities = createMemberActivities(h.deps)): Promise<StepContext> {
  const memberId = randomUUID();
  const step = { tenantId: h.tenant.id, memberId, workflowId: `member-${h.tenant.id}-${memberId}` };
  const sealed = await as(async (tx) => sealApplication(await h.keyring.forTenant(tx, h.tenant.id), memberId, applicationFor(h, `${memberId}@example.np`), 'status-token-0001'));
  await activities.recordApplication(step, sealed);
  return step;
}

test('a decision is not taken for the other one: after an approval, a rejection on the same lifecycle fails for good', async () => {
  const activities = createMemberActivities(h.deps);
  const step = await registered(activities);
  await activities.recordApproval(step, 'user:head', null);
  await activities.recordApproval(step, 'user:head', null);
  await expect(activities.recordRejection(step, 'user:head', 'changed my mind')).rejects.toMatchObject({ type: 'MEMBER_NOT_AWAITING_APPROVAL', nonRetryable: true });
  const events = await as((tx) => tx.anyFirst(sql.type(z.object({ t: z.string() }))`SELECT event_type AS t FROM event_store WHERE aggregate_id = ${step.memberId} ORDER BY version`));
  expect(events).toEqual(['MemberRegistered', 'MemberApproved']);
});

test('a decision recorded under the key lifecycles used before counts as done when it is the same decision', async () => {
  const activities = createMemberActivities(h.deps);
  const step = await registered(activities);
  await as((tx) => executeMemberCommand(tx, { ...step, metadata: { actor: 'user:head' }, idempotencyKey: `${step.workflowId}:decision` }, { type: 'Approve', by: 'user:head', note: null }));
  await expect(activities.recordApproval(step, 'user:head', null)).resolves.toBeUndefined();
  await expect(activities.recordRejection(step, 'user:head', 'no')).rejects.toMatchObject({ type: 'MEMBER_NOT_AWAITING_APPROVAL' });
});

test("two attempts at the card that overlap leave one card, whose stored PDF carries the token id_cards holds", async () => {
  let releaseFirst!: () => void;
  const firstMayStore = new Promise<void>((resolve) => (releaseFirst = resolve));
  let puts = 0;
  // The first attempt stores its PDF only after the second has stored and recorded its own.
  const storage: ObjectStorage = {
    put: async (key, bytes) => {
      if (++puts === 1) await firstMayStore;
      return h.deps.storage.put(key, bytes);
    },
    get: (key) => h.deps.storage.get(key),
    exists: (key) => h.deps.storage.exists(key),
  };
  const activities = createMemberActivities({ ...h.deps, storage });
  const step = await registered(activities);
  await activities.recordApproval(step, 'user:head', null);
  const invoice = await activities.issueInvoice(step, 50_000, 'NPR', 86_400_000);
  await activities.recordPayment(step, { invoiceId: invoice.invoiceId, amount: 50_000, currency: 'NPR', provider: 'esewa', providerRef: `r-${step.memberId}`, paidAt: new Date().toISOString() });
  await activities.activateMember(step);
  const first = activities.issueIdCard(step);
  while (puts === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const second = await activities.issueIdCard(step);
  releaseFirst();
  expect((await first).cardId).toBe(second.cardId);
  const cards = await as((tx) => tx.any(sql.type(z.object({ tokenId: z.string(), storageKey: z.string() }))`
    SELECT token_id AS "tokenId", storage_key AS "storageKey" FROM id_cards WHERE member_id = ${step.memberId}`));
  expect(cards).toHaveLength(1);
  // The QR code carries a verify URL holding the token.
  const scanned = await decodeQr(await h.deps.storage.get(cards[0]!.storageKey));
  expect(scanned).toMatch(/^https:\/\/members\.test\/verify\?token=/);
  expect(peekCardToken(tokenFromScan(scanned ?? '')).tokenId).toBe(cards[0]!.tokenId);
});
