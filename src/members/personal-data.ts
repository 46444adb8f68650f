import { createHmac } from 'node:crypto';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { open, seal, sealedKeyId } from '../crypto/aead.ts';
import type { TenantKeys } from '../tenants/keyring.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';

/** Personal fields stored only as AES-256-GCM ciphertext. */
export type PersonalField = 'phone' | 'email' | 'dateOfBirth' | 'address' | 'citizenshipNo';

export class InvalidPhoneError extends DomainError {
  override readonly name = 'InvalidPhoneError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('INVALID_PHONE', message, { ...options, field: options?.field ?? 'phone' });
  }
}

/**
 * E.164 form of a phone number; numbers without a country code are read as Nepali.
 * @throws InvalidPhoneError when it is not a valid number.
 */
export function normalizePhone(raw: string): string {
  try {
    const phone = parsePhoneNumberWithError(raw, 'NP');
    if (!phone.isValid()) throw new InvalidPhoneError(`"${raw}" is not a valid phone number`);
    return phone.number;
  } catch (err) {
    if (err instanceof InvalidPhoneError) throw err;
    throw new InvalidPhoneError(`"${raw}" is not a valid phone number`, { cause: err });
  }
}

export function normalizeEmail(raw: string): string {
  return raw.normalize('NFC').trim().toLowerCase();
}

function aad(keys: TenantKeys, recordId: string, field: PersonalField): string {
  return `${keys.tenantId}|members|${recordId}|${field}`;
}

export function encryptField(keys: TenantKeys, recordId: string, field: PersonalField, value: string): Buffer {
  const key = keys.dataKeys.get(keys.dataKeyId);
  if (!key) throw new Error('current data key missing');
  return seal(key, keys.dataKeyId, Buffer.from(value, 'utf8'), aad(keys, recordId, field));
}

/** @throws DecryptionError when the ciphertext was made for another tenant, record or field. */
export function decryptField(keys: TenantKeys, recordId: string, field: PersonalField, sealed: Buffer): string {
  const keyId = sealedKeyId(sealed);
  const key = keys.dataKeys.get(keyId);
  if (!key) throw new Error(`data key ${keyId} is not one of this tenant's keys`);
  return open(key, sealed, aad(keys, recordId, field)).toString('utf8');
}

/** Keyed HMAC of a normalized value under the current blind-index key: exact lookup and uniqueness without the plaintext. */
export function blindIndex(keys: TenantKeys, kind: 'phone' | 'email', normalized: string): Buffer {
  return blindIndexUnder(keys.blindIndexKey, kind, normalized);
}

/** The same HMAC under the blind-index key retired last (null when there is none): a row not yet re-indexed carries that one. */
export function previousBlindIndex(keys: TenantKeys, kind: 'phone' | 'email', normalized: string): Buffer | null {
  return keys.previousBlindIndexKey && blindIndexUnder(keys.previousBlindIndexKey, kind, normalized);
}

/** Every blind index a stored row with this value may carry: under the current key, and the previous one while `keys:reindex` runs. */
export function lookupBlindIndexes(keys: TenantKeys, kind: 'phone' | 'email', normalized: string): Buffer[] {
  const previous = previousBlindIndex(keys, kind, normalized);
  return previous ? [blindIndex(keys, kind, normalized), previous] : [blindIndex(keys, kind, normalized)];
}

function blindIndexUnder(key: Buffer, kind: 'phone' | 'email', normalized: string): Buffer {
  return createHmac('sha256', key).update(`${kind}:${normalized}`).digest();
}
