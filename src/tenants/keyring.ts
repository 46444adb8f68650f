import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { DecryptionError, open, seal, sealedKeyId } from '../crypto/aead.ts';
import { deriveKey } from '../crypto/derived-key.ts';
import type { MasterKey } from '../crypto/master-key.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';

export interface TenantKeys {
  tenantId: string;
  /** The current data key, used for new ciphertext. */
  dataKeyId: string;
  /** Every data key the tenant ever had, current and retired, by id. */
  dataKeys: ReadonlyMap<string, Buffer>;
  blindIndexKey: Buffer;
  cardSigning: { keyId: string; privateKey: KeyObject; publicKey: KeyObject };
}

const KeyRow = z.object({
  id: z.string(),
  purpose: z.enum(['data', 'blind_index', 'card_signing']),
  wrapped_key: z.instanceof(Buffer),
  retired_at: z.number().nullable(),
});

function wrapAad(tenantId: string, purpose: string): string {
  return `tenant-key|${tenantId}|${purpose}`;
}

/**
 * Per-tenant keys: an AES-256 data key, an HMAC key for blind indexes and an Ed25519 pair
 * for ID-card tokens, each stored wrapped by the master key. Unwrapped keys are cached in
 * memory per tenant.
 */
export class Keyring {
  readonly #master: MasterKey;
  readonly #cache = new Map<string, TenantKeys>();

  constructor(master: MasterKey) {
    this.#master = master;
  }

  /** A tenant's key for one purpose derived from the master key, with the master key's id (see deriveKey). */
  derivedKey(purpose: string, tenantId: string): { masterKeyId: string; key: Buffer } {
    return { masterKeyId: this.#master.id, key: deriveKey(this.#master, purpose, tenantId) };
  }

  /** Creates the tenant's first keys; runs inside that tenant's transaction. */
  async provision(tx: TenantTransaction, tenantId: string): Promise<void> {
    const pair = generateKeyPairSync('ed25519');
    const material = [
      { purpose: 'data', raw: randomBytes(32), publicKey: null },
      { purpose: 'blind_index', raw: randomBytes(32), publicKey: null },
      {
        purpose: 'card_signing',
        raw: pair.privateKey.export({ format: 'der', type: 'pkcs8' }),
        publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }),
      },
    ];
    for (const { purpose, raw, publicKey } of material) {
      const wrapped = seal(this.#master.key, this.#master.id, raw, wrapAad(tenantId, purpose));
      await tx.query(sql.unsafe`
        INSERT INTO tenant_keys (tenant_id, purpose, wrapped_key, public_key)
        VALUES (${tenantId}, ${purpose}, ${sql.binary(wrapped)}, ${publicKey ? sql.binary(publicKey) : null})`);
    }
  }

  /** @throws Error when the tenant has no keys or the master key cannot unwrap them. */
  async forTenant(tx: TenantTransaction, tenantId: string): Promise<TenantKeys> {
    const cached = this.#cache.get(tenantId);
    if (cached) return cached;
    const rows = await tx.any(sql.type(KeyRow)`
      SELECT id, purpose, wrapped_key, retired_at FROM tenant_keys WHERE tenant_id = ${tenantId} ORDER BY created_at`);
    const keys = this.#unwrapAll(tenantId, rows);
    this.#cache.set(tenantId, keys);
    return keys;
  }

  /** Wraps a party secret kept elsewhere (e.g. a webhook secret) with the master key; `aad` names where it belongs. */
  wrapSecret(secret: Buffer, aad: string): Buffer {
    return seal(this.#master.key, this.#master.id, secret, aad);
  }

  /** @throws DecryptionError when `wrapped` was not made by wrapSecret with this master key and `aad`. */
  unwrapSecret(wrapped: Buffer, aad: string): Buffer {
    if (sealedKeyId(wrapped) !== this.#master.id) throw new DecryptionError('the secret was wrapped by another master key');
    return open(this.#master.key, wrapped, aad);
  }

  #unwrapAll(tenantId: string, rows: readonly z.infer<typeof KeyRow>[]): TenantKeys {
    const dataKeys = new Map<string, Buffer>();
    let dataKeyId: string | undefined;
    let blindIndexKey: Buffer | undefined;
    let cardSigning: TenantKeys['cardSigning'] | undefined;
    for (const row of rows) {
      if (sealedKeyId(row.wrapped_key) !== this.#master.id) throw new Error(`tenant key ${row.id} was wrapped by another master key`);
      const raw = open(this.#master.key, row.wrapped_key, wrapAad(tenantId, row.purpose));
      const current = row.retired_at === null;
      if (row.purpose === 'data') {
        dataKeys.set(row.id, raw);
        if (current) dataKeyId = row.id;
      } else if (row.purpose === 'blind_index' && current) {
        blindIndexKey = raw;
      } else if (row.purpose === 'card_signing' && current) {
        const privateKey = createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
        cardSigning = { keyId: row.id, privateKey, publicKey: createPublicKey(privateKey) };
      }
    }
    if (!dataKeyId || !blindIndexKey || !cardSigning) throw new Error(`tenant ${tenantId} has no complete key set`);
    return { tenantId, dataKeyId, dataKeys, blindIndexKey, cardSigning };
  }
}
