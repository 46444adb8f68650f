import type { DatabasePool } from 'slonik';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { createWebhookSecret, rotateWebhookSecret } from '../../src/payments/webhook-secrets.ts';
import type { Keyring } from '../../src/tenants/keyring.ts';

/**
 * The party's webhook secret for a provider, as `webhook:secret:create` makes it; a party that
 * has one already gets a new one at once (no overlap), so the one returned is the only one valid.
 */
export async function makeWebhookSecret(pool: DatabasePool, keyring: Keyring, tenantId: string, provider = 'esewa'): Promise<string> {
  return withTenant(pool, { tenantId, actor: 'test' }, async (tx) => {
    const issued = (await createWebhookSecret(tx, keyring, tenantId, provider)) ?? (await rotateWebhookSecret(tx, keyring, tenantId, provider, 0));
    if (!issued) throw new Error(`no webhook secret for ${provider}`);
    return issued.secret;
  });
}

/** The headers of a webhook delivery signed as a provider signs it (now, unless `at` is given). */
export function webhookHeaders(secret: string, slug: string, provider: string, raw: string, at?: Date): Record<string, string> {
  return { 'content-type': 'application/json', 'x-signature': signWebhook(secret, slug, provider, raw, at) };
}
