import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { Keyring } from '../tenants/keyring.ts';
import { ESEWA_PRODUCTION, ESEWA_SANDBOX, esewaEndpoints, type EsewaEndpoints } from './gateways/esewa.ts';
import type { GatewayName } from './gateways/gateway.ts';
import { KHALTI_PRODUCTION_BASE_URL, KHALTI_SANDBOX_BASE_URL } from './gateways/khalti.ts';

export const GATEWAYS = ['esewa', 'khalti'] as const satisfies readonly GatewayName[];
export const GATEWAY_ENVIRONMENTS = ['sandbox', 'production', 'simulator'] as const;
export type GatewayEnvironment = (typeof GATEWAY_ENVIRONMENTS)[number];

/** A party's merchant account with a gateway, its secret unwrapped: only for talking to the gateway. */
export interface GatewayAccount {
  id: string;
  gateway: GatewayName;
  environment: GatewayEnvironment;
  /** The simulator's address; null for the gateway's own sandbox or production. */
  baseUrl: string | null;
  /** eSewa's product code; null for Khalti. */
  merchantCode: string | null;
  secret: string;
}

export const GatewayAccountInputSchema = z.object({
  gateway: z.enum(GATEWAYS),
  environment: z.enum(GATEWAY_ENVIRONMENTS),
  baseUrl: z.url({ protocol: /^https?$/ }).optional().describe('the simulator\'s address; only with environment simulator'),
  merchantCode: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _, at most 64').optional().describe("eSewa's product code; eSewa only"),
  secret: z.string().min(8).max(200).describe("eSewa's secret key, or Khalti's live secret key"),
}).superRefine((a, ctx) => {
  if ((a.environment === 'simulator') !== (a.baseUrl !== undefined)) ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'give baseUrl with environment simulator, and only then' });
  if ((a.gateway === 'esewa') !== (a.merchantCode !== undefined)) ctx.addIssue({ code: 'custom', path: ['merchantCode'], message: 'eSewa needs its product code (merchantCode); Khalti has none' });
});
export type GatewayAccountInput = z.input<typeof GatewayAccountInputSchema>;

/** What a wrapped merchant secret is bound to: the party, the gateway and its row. */
const secretAad = (tenantId: string, gateway: string, id: string) => `gateway-secret|${tenantId}|${gateway}|${id}`;

/**
 * Sets (or replaces) the party's account with a gateway; runs in the party's transaction. A
 * replaced account keeps its row (changed in place, its versions in the audit trail), the new
 * secret wrapped to that row.
 */
export async function setGatewayAccount(tx: TenantTransaction, keyring: Keyring, tenantId: string, input: GatewayAccountInput): Promise<void> {
  const a = GatewayAccountInputSchema.parse(input);
  const existing = await tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM payment_gateway_accounts WHERE gateway = ${a.gateway} FOR UPDATE`);
  const id = existing ?? randomUUID();
  const wrapped = keyring.wrapSecret(Buffer.from(a.secret, 'utf8'), secretAad(tenantId, a.gateway, id));
  if (existing) {
    await tx.query(sql.unsafe`
      UPDATE payment_gateway_accounts SET environment = ${a.environment}, base_url = ${a.baseUrl ?? null}, merchant_code = ${a.merchantCode ?? null},
        wrapped_secret = ${sql.binary(wrapped)}
      WHERE id = ${id}`);
    return;
  }
  await tx.query(sql.unsafe`
    INSERT INTO payment_gateway_accounts (id, tenant_id, gateway, environment, base_url, merchant_code, wrapped_secret)
    VALUES (${id}, ${tenantId}, ${a.gateway}, ${a.environment}, ${a.baseUrl ?? null}, ${a.merchantCode ?? null}, ${sql.binary(wrapped)})`);
}

const AccountRow = z.object({
  id: z.string(), tenantId: z.string(), gateway: z.enum(GATEWAYS), environment: z.enum(GATEWAY_ENVIRONMENTS),
  baseUrl: z.string().nullable(), merchantCode: z.string().nullable(), wrapped: z.instanceof(Buffer),
});

const accountColumns = sql.fragment`id, tenant_id AS "tenantId", gateway, environment, base_url AS "baseUrl", merchant_code AS "merchantCode", wrapped_secret AS wrapped`;

/** The party's account with this gateway, or null when it takes no payments through it. */
export async function gatewayAccount(tx: TenantTransaction, keyring: Keyring, gateway: GatewayName): Promise<GatewayAccount | null> {
  const row = await tx.maybeOne(sql.type(AccountRow)`SELECT ${accountColumns} FROM payment_gateway_accounts WHERE gateway = ${gateway}`);
  if (!row) return null;
  const { wrapped, tenantId, ...account } = row;
  return { ...account, secret: keyring.unwrapSecret(wrapped, secretAad(tenantId, row.gateway, row.id)).toString('utf8') };
}

/** The gateways the party takes payments through, without their secrets. */
export async function partyGateways(tx: TenantTransaction): Promise<readonly { gateway: GatewayName; environment: GatewayEnvironment }[]> {
  return tx.any(sql.type(z.object({ gateway: z.enum(GATEWAYS), environment: z.enum(GATEWAY_ENVIRONMENTS) }))`
    SELECT gateway, environment FROM payment_gateway_accounts ORDER BY gateway`);
}

/** eSewa's form and status addresses for an account. */
export function esewaEndpointsOf(account: GatewayAccount): EsewaEndpoints {
  if (account.environment === 'simulator') return esewaEndpoints(account.baseUrl!);
  return account.environment === 'production' ? ESEWA_PRODUCTION : ESEWA_SANDBOX;
}

/** Khalti's API base for an account. */
export function khaltiBaseOf(account: GatewayAccount): string {
  if (account.environment === 'simulator') return account.baseUrl!;
  return account.environment === 'production' ? KHALTI_PRODUCTION_BASE_URL : KHALTI_SANDBOX_BASE_URL;
}
