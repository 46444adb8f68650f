import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { sql, type DatabasePool, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { cardKeyId } from '../cards/card-keys.ts';
import { DecryptionError, open, seal, sealedKeyId } from '../crypto/aead.ts';
import { deriveKey } from '../crypto/derived-key.ts';
import { LEGACY_MASTER_KEY_ID, resolveMasterKeys, type MasterKey } from '../crypto/master-key.ts';
import { auditSettings, inTenantTransaction, tenantIdOf, type TenantContext, type TenantTransaction } from '../db/tenant-context.ts';

export type KeyPurpose = 'data' | 'blind_index' | 'card_signing';

/** A card-signing public key, derived from its unwrapped private key (never read from `public_key`). */
export interface CardVerifyingKey {
  /** The tenant_keys row. */
  rowId: string;
  /** The key id cards signed with it carry. */
  kid: string;
  publicKey: KeyObject;
  /** When it stopped signing (ms since epoch); null for the current key. */
  retiredAt: number | null;
}

export interface TenantKeys {
  tenantId: string;
  /** The current data key, used for new ciphertext. */
  dataKeyId: string;
  /** Every data key the tenant ever had, current and retired, by id. */
  dataKeys: ReadonlyMap<string, Buffer>;
  /** The current blind-index key: new blind indexes are made with it. */
  blindIndexKey: Buffer;
  /**
   * The blind-index key retired last, until `keys:reindex` has moved every stored index to the
   * current key (then null). Lookups and duplicate checks look under it too meanwhile.
   */
  previousBlindIndexKey: Buffer | null;
  /** The tenant_keys row of previousBlindIndexKey, for keys:reindex to mark finished. */
  previousBlindIndexKeyId: string | null;
  /**
   * The party's first blind-index key: status-link tokens and application digests of keyed
   * registrations derive from it, so a repeat that spans a blind-index rotation still gets its link.
   */
  registrationKey: Buffer;
  cardSigning: { keyId: string; privateKey: KeyObject; publicKey: KeyObject };
  /** Every card-signing key whose wrap authenticates, current first, then retired ones newest first. */
  cardVerifying: readonly CardVerifyingKey[];
}

/** A tenant_keys row found tampered with: its stored public key is not its private key's (ignored), or its wrap does not open (row left out). */
export interface UntrustedKey {
  tenantId: string;
  rowId: string;
  purpose: KeyPurpose;
  reason: string;
}

const KeyRow = z.object({
  id: z.string(),
  purpose: z.enum(['data', 'blind_index', 'card_signing']),
  wrapped_key: z.instanceof(Buffer),
  public_key: z.instanceof(Buffer).nullable(),
  created_at: z.number(),
  retired_at: z.number().nullable(),
  reindexed_at: z.number().nullable(),
});
type KeyRow = z.infer<typeof KeyRow>;

const fromHex = (text: string) => Buffer.from(text, 'hex');
/** The rows of tenantKeyRows, as JSON carries them: keys in hex, times in epoch milliseconds. */
export const TenantKeyRows = z.array(z.object({
  ...KeyRow.shape,
  wrapped_key: z.string().transform(fromHex),
  public_key: z.string().transform(fromHex).nullable(),
}));

/**
 * The tenant's key rows as one JSON value, for a select list (what forTenant reads, in its
 * order, times truncated to the millisecond as the pool's parser reads them): Keyring.fromRows
 * takes them parsed by TenantKeyRows. Under row-level security, so the tenant must be bound
 * when it runs.
 */
export function tenantKeyRows(tenantId: string): FragmentSqlToken {
  const ms = (column: string) => sql.fragment`floor(extract(epoch FROM ${sql.identifier([column])}) * 1000)::float8`;
  return sql.fragment`(SELECT coalesce(json_agg(json_build_object('id', id, 'purpose', purpose, 'wrapped_key', encode(wrapped_key, 'hex'),
      'public_key', encode(public_key, 'hex'), 'created_at', ${ms('created_at')}, 'retired_at', ${ms('retired_at')}, 'reindexed_at', ${ms('reindexed_at')})
      ORDER BY created_at, id), '[]') FROM tenant_keys WHERE tenant_id = ${tenantId})`;
}

/**
 * withTenant whose first statement reads the party's keys too (Keyring.fromRows): one round trip
 * where binding the tenant and then Keyring.forTenant took two. The keys' subquery runs as the
 * row is projected, after the subquery in FROM has bound the tenant (OFFSET 0 keeps it a scan).
 * @throws TypeError when the tenant id is not a UUID; Error as Keyring.forTenant.
 */
export async function withTenantKeys<T>(pool: DatabasePool, keyring: Keyring, context: TenantContext, work: (tx: TenantTransaction, keys: TenantKeys) => Promise<T>): Promise<T> {
  const tenantId = tenantIdOf(context);
  return inTenantTransaction(pool,
    async (tx) => keyring.fromRows(tenantId, await tx.oneFirst(sql.type(z.object({ keys: TenantKeyRows }))`
      SELECT ${tenantKeyRows(tenantId)} AS keys FROM (SELECT set_config('app.tenant_id', ${tenantId}, true), ${auditSettings(context)} OFFSET 0) bound`)),
    work);
}

/** The AAD of a wrapped tenant key: the wrap opens only as this tenant's key for this purpose. */
export function tenantKeyAad(tenantId: string, purpose: string): string {
  return `tenant-key|${tenantId}|${purpose}`;
}

/**
 * A column that holds values wrapped by the master key, and how to rebuild each value's AAD
 * from its row. `keys:rewrap-master` re-wraps every column listed in WRAPPED_COLUMNS
 * (src/tenants/key-rotation.ts); a new
 * table of wrapped secrets is one more entry. The table has an `id` column and tenant
 * row-level security (the re-wrap runs party by party).
 */
export interface WrappedColumn {
  table: string;
  column: string;
  /** Columns of the row the AAD is made from (read as text); `id` is always there. */
  aadColumns: readonly string[];
  aad: (row: Readonly<Record<string, string>>) => string;
}

function newKeyMaterial(purpose: KeyPurpose): { raw: Buffer; publicKey: Buffer | null } {
  if (purpose !== 'card_signing') return { raw: randomBytes(32), publicKey: null };
  const pair = generateKeyPairSync('ed25519');
  return { raw: pair.privateKey.export({ format: 'der', type: 'pkcs8' }), publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }) };
}

/** Rows' contents, hashed: the cache is used only while the rows it was made from are unchanged. */
function fingerprint(rows: readonly KeyRow[]): string {
  const hash = createHash('sha256');
  for (const row of rows) {
    hash.update(`${row.id}|${row.purpose}|${row.retired_at ?? ''}|${row.reindexed_at ?? ''}|`).update(row.wrapped_key).update('|').update(row.public_key ?? Buffer.alloc(0)).update('\n');
  }
  return hash.digest('hex');
}

export interface KeyringOptions {
  /** Master keys being retired: they still unwrap, never wrap. */
  previous?: readonly MasterKey[];
  /** Told of each key row the keyring refused (a planted public key, a wrap that does not open). */
  onUntrustedKey?: (key: UntrustedKey) => void;
}

/**
 * Per-tenant keys: AES-256 data keys, HMAC keys for blind indexes and Ed25519 pairs for
 * ID-card tokens, each stored wrapped by the master key with an AAD naming tenant and purpose.
 *
 * Unwrapped keys are cached in memory per tenant, but each use reads the tenant's key rows (a
 * handful of small rows by index) and unwraps again when they changed: a rotation or re-wrap
 * by another process is seen by the next transaction, with no TTL to wait out.
 */
export class Keyring {
  readonly #master: MasterKey;
  readonly #previous: readonly MasterKey[];
  readonly #onUntrusted: (key: UntrustedKey) => void;
  readonly #cache = new Map<string, { fingerprint: string; keys: TenantKeys }>();

  constructor(master: MasterKey, options: KeyringOptions = {}) {
    this.#master = master;
    this.#previous = options.previous ?? [];
    this.#onUntrusted = options.onUntrustedKey ?? (() => undefined);
  }

  /** The id of the master key new wraps are made with. */
  get masterKeyId(): string {
    return this.#master.id;
  }

  /** A tenant's key for one purpose derived from the master key, with the master key's id (see deriveKey). */
  derivedKey(purpose: string, tenantId: string): { masterKeyId: string; key: Buffer } {
    return { masterKeyId: this.#master.id, key: deriveKey(this.#master, purpose, tenantId) };
  }

  /** The same key derived from every master key held, current first (previous ones during a rotation). */
  heldDerivedKeys(purpose: string, tenantId: string): { masterKeyId: string; key: Buffer }[] {
    return [this.#master, ...this.#previous].map((master) => ({ masterKeyId: master.id, key: deriveKey(master, purpose, tenantId) }));
  }

  /** Creates the tenant's first keys; runs inside that tenant's transaction. */
  async provision(tx: TenantTransaction, tenantId: string): Promise<void> {
    for (const purpose of ['data', 'blind_index', 'card_signing'] as const) await this.#insertKey(tx, tenantId, purpose);
  }

  /**
   * Makes a new current key for `purpose` and retires the one it replaces (kept: data keys
   * still decrypt, the last blind-index key still finds, card keys still verify). Runs inside
   * the tenant's transaction. @returns the new key's row id.
   */
  async rotate(tx: TenantTransaction, tenantId: string, purpose: KeyPurpose): Promise<string> {
    await tx.query(sql.unsafe`
      UPDATE tenant_keys SET retired_at = clock_timestamp() WHERE tenant_id = ${tenantId} AND purpose = ${purpose} AND retired_at IS NULL`);
    return this.#insertKey(tx, tenantId, purpose);
  }

  async #insertKey(tx: TenantTransaction, tenantId: string, purpose: KeyPurpose): Promise<string> {
    const { raw, publicKey } = newKeyMaterial(purpose);
    const wrapped = seal(this.#master.key, this.#master.id, raw, tenantKeyAad(tenantId, purpose));
    return tx.oneFirst(sql.type(z.object({ id: z.string() }))`
      INSERT INTO tenant_keys (tenant_id, purpose, wrapped_key, public_key, created_at)
      VALUES (${tenantId}, ${purpose}, ${sql.binary(wrapped)}, ${publicKey ? sql.binary(publicKey) : null}, clock_timestamp())
      RETURNING id`);
  }

  /** @throws Error when the tenant has no complete key set or the master keys held cannot unwrap a current key. */
  async forTenant(tx: TenantTransaction, tenantId: string): Promise<TenantKeys> {
    const rows = await tx.any(sql.type(KeyRow)`
      SELECT id, purpose, wrapped_key, public_key, created_at, retired_at, reindexed_at FROM tenant_keys WHERE tenant_id = ${tenantId} ORDER BY created_at, id`);
    return this.fromRows(tenantId, rows);
  }

  /**
   * forTenant from rows another statement read (tenantKeyRows, e.g. in a transaction's first
   * statement): the same check against the cache, the same unwrapping when they changed.
   * @throws Error as forTenant.
   */
  fromRows(tenantId: string, rows: readonly KeyRow[]): TenantKeys {
    const print = fingerprint(rows);
    const cached = this.#cache.get(tenantId);
    if (cached?.fingerprint === print) return cached.keys;
    const keys = this.#unwrapAll(tenantId, rows);
    this.#cache.set(tenantId, { fingerprint: print, keys });
    return keys;
  }

  /** Wraps a party secret kept outside tenant_keys (e.g. a webhook secret) with the current master key; `aad` names where it belongs. */
  wrapSecret(secret: Buffer, aad: string): Buffer {
    return seal(this.#master.key, this.#master.id, secret, aad);
  }

  /** @throws DecryptionError when `wrapped` was not made by wrapSecret with a master key held and `aad`. */
  unwrapSecret(wrapped: Buffer, aad: string): Buffer {
    return this.unwrap(wrapped, aad);
  }

  /**
   * Opens a value wrapped by a master key this keyring holds: the one its header names (a legacy
   * wrap, made before master keys had ids, is tried with each).
   * @throws DecryptionError when no master key held opens it.
   */
  unwrap(wrapped: Buffer, aad: string): Buffer {
    const id = sealedKeyId(wrapped);
    const candidates = id === LEGACY_MASTER_KEY_ID ? [this.#master, ...this.#previous] : [this.#master, ...this.#previous].filter((k) => k.id === id);
    if (candidates.length === 0) throw new DecryptionError(`wrapped by master key ${id}, which this process does not hold`);
    let failure: unknown;
    for (const master of candidates) {
      try {
        return open(master.key, wrapped, aad);
      } catch (err) {
        failure = err;
      }
    }
    throw new DecryptionError(`a value wrapped by master key ${id} does not authenticate under any master key held (another key, or not this row's value)`, { cause: failure });
  }

  /**
   * Re-wraps, under the current master key, every value of `column` in the transaction's tenant
   * that another master key wrapped. A value no master key held opens (planted, or for another
   * row) is left as it is and named in `unopened`: it was never usable.
   */
  async rewrap(tx: TenantTransaction, column: WrappedColumn): Promise<{ rewrapped: number; unopened: string[] }> {
    const table = sql.identifier([column.table]);
    const wrappedColumn = sql.identifier([column.column]);
    const aadColumns = column.aadColumns.filter((name) => name !== 'id').map((name) => sql.fragment`${sql.identifier([name])}::text AS ${sql.identifier([name])}`);
    const rows = await tx.any(sql.unsafe`
      SELECT id::text AS id, ${wrappedColumn} AS wrapped${aadColumns.length ? sql.fragment`, ${sql.join(aadColumns, sql.fragment`, `)}` : sql.fragment``}
      FROM ${table} WHERE ${wrappedColumn} IS NOT NULL ORDER BY id FOR UPDATE`) as readonly Record<string, unknown>[];
    let rewrapped = 0;
    const unopened: string[] = [];
    for (const row of rows) {
      const wrapped = row.wrapped as Buffer;
      const aad = column.aad(row as Record<string, string>);
      let raw: Buffer;
      try {
        raw = this.unwrap(wrapped, aad);
      } catch {
        unopened.push(row.id as string);
        continue;
      }
      if (sealedKeyId(wrapped) === this.#master.id) continue;
      await tx.query(sql.unsafe`
        UPDATE ${table} SET ${wrappedColumn} = ${sql.binary(seal(this.#master.key, this.#master.id, raw, aad))} WHERE id = ${row.id as string}`);
      rewrapped += 1;
    }
    return { rewrapped, unopened };
  }

  #unwrapAll(tenantId: string, rows: readonly KeyRow[]): TenantKeys {
    const dataKeys = new Map<string, Buffer>();
    let dataKeyId: string | undefined;
    let blindIndexKey: Buffer | undefined;
    let previousBlindIndex: { key: Buffer; retiredAt: number; rowId: string; reindexed: boolean } | undefined;
    let registrationKey: Buffer | undefined;
    let cardSigning: TenantKeys['cardSigning'] | undefined;
    const cardVerifying: CardVerifyingKey[] = [];
    for (const row of rows) {
      const current = row.retired_at === null;
      let raw: Buffer;
      try {
        raw = this.unwrap(row.wrapped_key, tenantKeyAad(tenantId, row.purpose));
      } catch (err) {
        // A current key is needed: fail loudly. A retired one that does not open is left out.
        if (current) throw new Error(`tenant key ${row.id} (${row.purpose}) does not unwrap: ${(err as Error).message}`, { cause: err });
        this.#onUntrusted({ tenantId, rowId: row.id, purpose: row.purpose, reason: 'its wrap does not open under the master keys held' });
        continue;
      }
      if (row.purpose === 'data') {
        dataKeys.set(row.id, raw);
        if (current) dataKeyId = row.id;
      } else if (row.purpose === 'blind_index') {
        registrationKey ??= raw;
        if (current) blindIndexKey = raw;
        else if (!previousBlindIndex || row.retired_at! >= previousBlindIndex.retiredAt) {
          previousBlindIndex = { key: raw, retiredAt: row.retired_at!, rowId: row.id, reindexed: row.reindexed_at !== null };
        }
      } else {
        const privateKey = createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
        const publicKey = createPublicKey(privateKey);
        // The stored public key is only a copy for readers without the master key and is never used
        // here: one that is not this private key's half was planted, and is reported.
        if (row.public_key && !row.public_key.equals(publicKey.export({ format: 'der', type: 'spki' }))) {
          this.#onUntrusted({ tenantId, rowId: row.id, purpose: row.purpose, reason: "its public_key is not its private key's public half: ignored, the key derived from the private key is used" });
        }
        if (current) cardSigning = { keyId: row.id, privateKey, publicKey };
        cardVerifying.push({ rowId: row.id, kid: cardKeyId(publicKey), publicKey, retiredAt: row.retired_at });
      }
    }
    if (!dataKeyId || !blindIndexKey || !registrationKey || !cardSigning) throw new Error(`tenant ${tenantId} has no complete key set`);
    cardVerifying.sort((a, b) => (a.retiredAt ?? Infinity) - (b.retiredAt ?? Infinity)).reverse();
    const previous = previousBlindIndex && !previousBlindIndex.reindexed ? previousBlindIndex : null;
    return {
      tenantId, dataKeyId, dataKeys, blindIndexKey, previousBlindIndexKey: previous?.key ?? null, previousBlindIndexKeyId: previous?.rowId ?? null,
      registrationKey, cardSigning, cardVerifying,
    };
  }
}

/**
 * The process's keyring from configuration: MASTER_KEY wraps; MASTER_KEY_PREVIOUS, set during a
 * master-key rotation, still unwraps. @throws Error when a key is missing (production) or malformed.
 */
export function configuredKeyring(settings: Parameters<typeof resolveMasterKeys>[0], onUntrustedKey?: (key: UntrustedKey) => void): Keyring {
  const { current, previous } = resolveMasterKeys(settings);
  return new Keyring(current, { previous, ...(onUntrustedKey && { onUntrustedKey }) });
}
