import type { KeyObject } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { Keyring } from '../tenants/keyring.ts';

export interface CardPublicKey {
  kid: string;
  key: KeyObject;
}

/** A day's grace past a retired key's last possible card: card dates are days in the party's time zone. */
const DAY_MS = 86_400_000;

const LastCard = z.object({ validUntil: z.string().nullable() });

/**
 * The tenant's card-signing public keys, current first, each derived from its unwrapped private
 * key (the wrap is authenticated under the master key, the stored `public_key` column is not
 * trusted: a key planted there is never published nor verified with). A retired key stays while
 * a card it signed can still be valid: until the later of its retirement plus the party's card
 * validity and the last `valid_until` of the cards issued before it retired (the validity
 * setting may have been shortened since), plus a day; a single card is withdrawn by revoking
 * it in id_cards. Runs inside the tenant's transaction: tenant_keys is visible only there.
 */
export async function cardPublicKeys(tx: TenantTransaction, keyring: Keyring, tenant: { id: string; cardValidityMs: number }, now: Date): Promise<CardPublicKey[]> {
  const keys = await keyring.forTenant(tx, tenant.id);
  const published: CardPublicKey[] = [];
  for (const { kid, publicKey, retiredAt } of keys.cardVerifying) {
    if (retiredAt !== null && retiredAt + tenant.cardValidityMs + DAY_MS <= now.getTime()) {
      const { validUntil } = await tx.one(sql.type(LastCard)`
        SELECT max(valid_until)::text AS "validUntil" FROM id_cards WHERE issued_at <= to_timestamp(${retiredAt / 1000})`);
      if (validUntil === null || Date.parse(`${validUntil}T00:00:00Z`) + 2 * DAY_MS <= now.getTime()) continue;
    }
    published.push({ kid, key: publicKey });
  }
  return published;
}
