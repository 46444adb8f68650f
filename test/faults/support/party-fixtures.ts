import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { issueToken } from '../../../src/auth/tokens.ts';
import { signCardToken } from '../../../src/cards/card-token.ts';
import { withTenant } from '../../../src/db/tenant-context.ts';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../../src/members/lifecycle-client.ts';
import type { Tenant } from '../../../src/tenants/tenants.ts';
import { createUser, type UserRole } from '../../../src/users/users.ts';
import { approveUpdate, paymentReceivedUpdate, rejectUpdate } from '../../../src/members/lifecycle-contract.ts';
import type { ApiHarness } from '../../support/api-harness.ts';
import { applicationFor, awaitInvoice, lifecycleHandle, paymentFor } from '../../support/lifecycle-harness.ts';

export interface Invoice { invoiceId: string; amountMinor: number; currency: string }

/** One party's members in the states the API treats differently, with what each state leaves behind. */
export interface PartyMembers {
  awaitingApproval: Registered;
  awaitingPayment: Registered & { invoice: Invoice };
  withCard: Registered & { invoice: Invoice; cardToken: string; cardTokenId: string };
  rejected: Registered;
}

const CardRow = z.object({ tokenId: z.string(), memberNumber: z.string(), validUntil: z.string() });

const register = (api: ApiHarness, tenant: Tenant) =>
  registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenant.id, applicationFor(api, `${randomUUID()}@example.np`));

async function approved(api: ApiHarness, tenant: Tenant) {
  const member = await register(api, tenant);
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:fixture' });
  return { ...member, invoice: await awaitInvoice(lifecycleHandle(api, member.workflowId)) };
}

/** The QR token printed on the member's card: Ed25519 is deterministic, so this is the issued one. */
async function cardTokenOf(api: ApiHarness, tenant: Tenant, memberId: string): Promise<{ token: string; tokenId: string }> {
  return withTenant(api.db.app, { tenantId: tenant.id, actor: 'fixture' }, async (tx) => {
    const card = await tx.one(sql.type(CardRow)`
      SELECT token_id AS "tokenId", member_number AS "memberNumber", valid_until::text AS "validUntil" FROM id_cards WHERE member_id = ${memberId}`);
    const keys = await api.keyring.forTenant(tx, tenant.id);
    return { token: signCardToken(keys.cardSigning.privateKey, { tenant: tenant.slug, memberId, ...card }), tokenId: card.tokenId };
  });
}

/** Members of `tenant` awaiting approval, awaiting payment, with a card, and rejected; lifecycles run on the harness worker. */
export async function seedMembers(api: ApiHarness, tenant: Tenant): Promise<PartyMembers> {
  const awaitingApproval = await register(api, tenant);
  const awaitingPayment = await approved(api, tenant);
  const paid = await approved(api, tenant);
  await sendLifecycleUpdate(api.client, paid.workflowId, paymentReceivedUpdate, paymentFor(paid.invoice));
  await lifecycleHandle(api, paid.workflowId).result();
  const card = await cardTokenOf(api, tenant, paid.memberId);
  const rejected = await register(api, tenant);
  await sendLifecycleUpdate(api.client, rejected.workflowId, rejectUpdate, { by: 'user:fixture', reason: 'not a resident' });
  await lifecycleHandle(api, rejected.workflowId).result();
  return { awaitingApproval, awaitingPayment, withCard: { ...paid, cardToken: card.token, cardTokenId: card.tokenId }, rejected };
}

/** A user of any party (the harness's userWithToken only serves its own) and a bearer token for them. */
export async function userOf(api: ApiHarness, tenant: Tenant, options: { roles?: UserRole[]; headOf?: string[] } = {}): Promise<{ userId: string; token: string }> {
  const userId = await withTenant(api.db.app, { tenantId: tenant.id, actor: 'fixture' }, async (tx) => {
    const email = `user-${randomBytes(4).toString('hex')}@${tenant.slug}.test`;
    const { id } = await createUser(tx, tenant.id, { email, displayName: 'Fixture User', password: 'a long enough password', roles: options.roles ?? [] });
    for (const committeeId of options.headOf ?? []) {
      await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenant.id}, ${committeeId}, ${id}, 'head')`);
    }
    return id;
  });
  return { userId, token: (await issueToken(api.apiDeps.tokenSecret, { userId, tenantId: tenant.id })).token };
}

/** The harness terminates its own party's lifecycles when it stops; another party's are left to the test. */
export async function terminateLifecycles(api: ApiHarness, tenantId: string): Promise<void> {
  for await (const execution of api.client.workflow.list({ query: `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'` })) {
    await api.client.workflow.getHandle(execution.workflowId).terminate('test finished').catch(() => undefined);
  }
}

/** Lets lifecycles finish their mail and bookkeeping: a snapshot taken too early would "change" by itself. */
export async function settled<T>(take: () => Promise<T>, same: (a: T, b: T) => boolean, tries = 60): Promise<T> {
  let last = await take();
  for (let i = 0; i < tries; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await take();
    if (same(last, next)) return next;
    last = next;
  }
  throw new Error('the database never settled: a lifecycle is still writing');
}
