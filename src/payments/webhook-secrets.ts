import { randomBytes, randomUUID } from 'node:crypto';
import { sql, UniqueIntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { DecryptionError } from '../crypto/aead.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { Keyring } from '../tenants/keyring.ts';
import { slug } from '../validation/fields.ts';

/** A provider's name as it appears in the webhook URL; `manual` is the treasurer's, never a provider's. */
export const WebhookProviderSchema = z
  .string()
  .regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, - and _, at most 40')
  .refine((p) => p !== 'manual', 'manual is reserved for payments entered by a treasurer');

/**
 * What a wrapped webhook secret is bound to: the party, the provider and its own row. Copied
 * into another party's, provider's or row's place it does not unwrap.
 */
export function webhookSecretAad(tenantId: string, provider: string, id: string): string {
  return `webhook-secret|${tenantId}|${provider}|${id}`;
}

export interface IssuedWebhookSecret {
  id: string;
  /** Shown once to the operator, who gives it to the provider; stored only wrapped. */
  secret: string;
}

export interface WebhookSecretSummary {
  id: string;
  provider: string;
  createdAt: number;
  /** null for the current secret; when a rotated-out one stops being accepted. */
  retiresAt: number | null;
}

const SummaryRow = z.object({ id: z.string(), provider: z.string(), createdAt: z.number(), retiresAt: z.number().nullable() });

/** 32 random bytes as base64url: the HMAC key is the UTF-8 bytes of this text, as a provider types it. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

async function insertSecret(tx: TenantTransaction, keyring: Keyring, tenantId: string, provider: string): Promise<IssuedWebhookSecret> {
  const id = randomUUID();
  const secret = newSecret();
  const wrapped = keyring.wrapSecret(Buffer.from(secret, 'utf8'), webhookSecretAad(tenantId, provider, id));
  await tx.query(sql.unsafe`
    INSERT INTO payment_webhook_secrets (id, tenant_id, provider, wrapped_secret) VALUES (${id}, ${tenantId}, ${provider}, ${sql.binary(wrapped)})`);
  return { id, secret };
}

async function hasCurrent(tx: TenantTransaction, provider: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM payment_webhook_secrets WHERE provider = ${provider} AND retires_at IS NULL`);
}

/**
 * Serializes changes to one party's secrets for one provider until the transaction ends: a
 * second create or rotate waits, then (a new statement, a new snapshot) sees what the first did.
 */
async function lockProvider(tx: TenantTransaction, tenantId: string, provider: string): Promise<void> {
  await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${`payment-webhook-secret|${tenantId}|${provider}`}, 0))`);
}

/**
 * The party's first secret for this provider; runs inside the party's transaction.
 * @returns null when the party already has a current secret for it (rotate instead).
 */
export async function createWebhookSecret(tx: TenantTransaction, keyring: Keyring, tenantId: string, provider: string): Promise<IssuedWebhookSecret | null> {
  WebhookProviderSchema.parse(provider);
  await lockProvider(tx, tenantId, provider);
  if (await hasCurrent(tx, provider)) return null;
  try {
    // In a savepoint: another create for the same provider committing first leaves this transaction usable.
    return await tx.transaction((savepoint) => insertSecret(savepoint, keyring, tenantId, provider));
  } catch (err) {
    if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'payment_webhook_secrets_one_current') return null;
    throw err;
  }
}

/**
 * A new current secret; the previous one stays accepted for `overlapMs` more (0: not at all).
 * Secrets retired earlier keep their own, earlier end.
 * @returns null when the party has no current secret for this provider (create one first).
 */
export async function rotateWebhookSecret(tx: TenantTransaction, keyring: Keyring, tenantId: string, provider: string, overlapMs: number): Promise<(IssuedWebhookSecret & { previousRetiresAt: number }) | null> {
  WebhookProviderSchema.parse(provider);
  await lockProvider(tx, tenantId, provider);
  const retired = await tx.maybeOneFirst(sql.type(z.object({ retiresAt: z.number() }))`
    UPDATE payment_webhook_secrets SET retires_at = now() + make_interval(secs => ${overlapMs / 1000})
    WHERE provider = ${provider} AND retires_at IS NULL
    RETURNING retires_at AS "retiresAt"`);
  if (retired === null) return null;
  return { ...(await insertSecret(tx, keyring, tenantId, provider)), previousRetiresAt: retired };
}

/** Ends the overlap now: every rotated-out secret of this provider stops being accepted. @returns how many were still accepted. */
export async function endWebhookSecretOverlap(tx: TenantTransaction, provider: string): Promise<number> {
  WebhookProviderSchema.parse(provider);
  const result = await tx.query(sql.unsafe`
    UPDATE payment_webhook_secrets SET retires_at = greatest(now(), created_at) WHERE provider = ${provider} AND retires_at > now()`);
  return result.rowCount;
}

/** Every secret of the party, without the secret: provider, id, created, retired or retiring when. */
export async function listWebhookSecrets(tx: TenantTransaction): Promise<readonly WebhookSecretSummary[]> {
  return tx.any(sql.type(SummaryRow)`
    SELECT id, provider, created_at AS "createdAt", retires_at AS "retiresAt"
    FROM payment_webhook_secrets ORDER BY provider, created_at`);
}

const AcceptedRow = z.object({ tenantId: z.string(), id: z.string(), wrapped: z.instanceof(Buffer) });

/**
 * The HMAC keys a webhook to this party's URL for this provider may be signed with at `at`:
 * the current secret and any still in its overlap. Empty for an unknown party or provider, at
 * the same cost (one statement either way, migrations/0019_payment_webhook_secrets.sql). A
 * wrapped secret that does not unwrap under its party, provider and row is left out.
 */
export async function acceptedWebhookSecrets(pool: DatabasePool, keyring: Keyring, partySlug: string, provider: string, at: Date): Promise<Buffer[]> {
  // A name no party or provider can have (a NUL, a thousand characters) asks for '', which none has: the same statement, no error.
  const asked = (schema: z.ZodType, name: string) => (schema.safeParse(name).success ? name : '');
  const rows = await pool.any(sql.type(AcceptedRow)`
    SELECT tenant_id AS "tenantId", id, wrapped_secret AS wrapped
    FROM payment_webhook_secrets_for(${asked(slug, partySlug)}, ${asked(WebhookProviderSchema, provider)}, ${at.toISOString()}::timestamptz)`);
  const keys: Buffer[] = [];
  for (const row of rows) {
    try {
      keys.push(keyring.unwrapSecret(row.wrapped, webhookSecretAad(row.tenantId, provider, row.id)));
    } catch (err) {
      // A wrapped secret moved here from another party, provider or row does not unwrap: it signs nothing.
      if (!(err instanceof DecryptionError)) throw err;
    }
  }
  return keys;
}
