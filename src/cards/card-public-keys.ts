import { createPublicKey, type KeyObject } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { cardKeyId } from './card-keys.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';

const PublicKeyRow = z.object({ publicKey: z.instanceof(Buffer) });

export interface CardPublicKey {
  kid: string;
  key: KeyObject;
}

/**
 * The tenant's card-signing public keys, current first. Retired keys stay: cards they signed
 * remain valid until their own date (a single card is withdrawn by revoking it in id_cards).
 * Runs inside the tenant's transaction: tenant_keys is visible only there.
 */
export async function cardPublicKeys(tx: TenantTransaction): Promise<CardPublicKey[]> {
  const rows = await tx.any(sql.type(PublicKeyRow)`
    SELECT public_key AS "publicKey" FROM tenant_keys
    WHERE purpose = 'card_signing' AND public_key IS NOT NULL
    ORDER BY retired_at IS NOT NULL, created_at DESC`);
  return rows.map(({ publicKey }) => {
    const key = createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
    return { kid: cardKeyId(key), key };
  });
}
