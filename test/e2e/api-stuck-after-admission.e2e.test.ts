/**
 * The stuck listing covers the workflows after admission (GET /api/ops/stuck-lifecycles): a
 * transfer waiting for a head's decision, an expulsion waiting for its confirmation and a
 * suspension waiting for its end carry MemberStage and StageEnteredAt from their start, and
 * each listed item names its workflow type. Real worker, Temporal dev server, Postgres, SMTP.
 */
import { randomUUID } from 'node:crypto';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import { AFTER_ADMISSION_STAGES } from '../../src/members/member-status.ts';
import { changeTenantSettings } from '../../src/tenants/tenant-settings.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { addCommitteeWithHead, applicationFor, awaitInvoice, lifecycleHandle, paymentFor } from '../support/lifecycle-harness.ts';

let api: ApiHarness & { stop(): Promise<void> };
let ops: string;
let admin: string;
let registrar: string;
let head: string;

interface StuckItem { id: string; attributes: { workflowType: string; memberId: string; stage: string; stageEnteredAt: string | null; startedAt: string } }
interface Stuck extends Omit<ApiResponse, 'body'> { body: { data: StuckItem[]; errors?: { code: string; source?: { parameter?: string } }[] } }
const stuck = (query: string, token = ops) => api.request('GET', `/api/ops/stuck-lifecycles?${query}`, { token }) as Promise<Stuck>;
const document = (type: string, attributes: Record<string, unknown> = {}) => ({ data: { type, attributes } });

/** Visibility trails the workflows: poll until the list holds the member's workflow. */
async function listedFor(stage: string, memberId: string): Promise<StuckItem | undefined> {
  for (let i = 0; i < 150; i++) {
    const res = await stuck(`stage=${stage}&olderThanMinutes=0`);
    expect(res.status).toBe(200);
    const item = res.body.data.find((d) => d.attributes.memberId === memberId);
    if (item) return item;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/** A member admitted through the real lifecycle, in the harness's second ward. */
async function activeMember(): Promise<string> {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  await sendLifecycleUpdate(api.client, member.workflowId, paymentReceivedUpdate, paymentFor(await awaitInvoice(lifecycleHandle(api, member.workflowId))));
  await lifecycleHandle(api, member.workflowId).result();
  return member.memberId;
}

beforeAll(async () => {
  api = await startApiHarness();
  ops = (await api.userWithToken({ roles: ['ops'] })).token;
  admin = (await api.userWithToken({ roles: ['tenant_admin'] })).token;
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  head = await api.tokenFor(api.headUserId);
  await addCommitteeWithHead(api, api.geo.wardIds[2]!, 'Ward 3 Committee', 'destination-head@party.test');
  await changeTenantSettings(api.db.owner, api.tenant.slug, { transferWindowMs: 3_600_000 }, 'test');
}, 180_000);
afterAll(() => api.stop());

test('a transfer waiting for its decision, a proposed expulsion and a running suspension are listed as stuck, each naming its workflow type', async () => {
  const [moving, proposed, suspended] = [await activeMember(), await activeMember(), await activeMember()];
  const transfer = await api.request('POST', `/api/members/${moving}/transfers`, { token: registrar, body: document('transfers', { toWardId: api.geo.wardIds[2] }) });
  expect(transfer.status).toBe(201);
  const expulsion = await api.request('POST', `/api/members/${proposed}/expulsion-proposals`, { token: head, body: document('expulsion-proposals', { reasonCode: 'misconduct' }) });
  expect(expulsion.status).toBe(200);
  const until = new Date(Date.now() + 3_600_000).toISOString();
  const suspension = await api.request('POST', `/api/members/${suspended}/suspensions`, { token: admin, body: document('suspensions', { until, reasonCode: 'indiscipline' }) });
  expect(suspension.status).toBe(200);

  expect((await listedFor('AwaitingTransferDecision', moving))?.attributes)
    .toMatchObject({ workflowType: 'memberTransfer', memberId: moving, stage: 'AwaitingTransferDecision', stageEnteredAt: expect.any(String) });
  expect((await listedFor('AwaitingExpulsionConfirmation', proposed))?.attributes)
    .toMatchObject({ workflowType: 'memberStatusChange', memberId: proposed, stage: 'AwaitingExpulsionConfirmation', stageEnteredAt: expect.any(String) });
  expect((await listedFor('Suspended', suspended))?.attributes)
    .toMatchObject({ workflowType: 'memberStatusChange', memberId: suspended, stage: 'Suspended', stageEnteredAt: expect.any(String) });

  // Not waiting for an hour yet: none of them is listed at the default threshold.
  for (const stage of ['AwaitingTransferDecision', 'AwaitingExpulsionConfirmation', 'Suspended']) {
    const recent = await stuck(`stage=${stage}&olderThanMinutes=60`);
    expect([stage, recent.status, recent.body.data.length]).toEqual([stage, 200, 0]);
  }
});

test('every stage after admission is accepted (the renewal ones too); the lifecycle stages still are; an unknown stage names the parameter', async () => {
  for (const stage of [...AFTER_ADMISSION_STAGES, 'AwaitingApproval']) {
    expect([stage, (await stuck(`stage=${stage}`)).status]).toEqual([stage, 200]);
  }
  const bad = await stuck('stage=Lapsing');
  expect([bad.status, bad.body.errors?.[0]?.source?.parameter]).toEqual([400, 'stage']);
});

test('a lifecycle waiting for approval is listed with its workflow type', async () => {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  expect((await listedFor('AwaitingApproval', member.memberId))?.attributes).toMatchObject({ workflowType: 'memberLifecycle', stage: 'AwaitingApproval' });
});
