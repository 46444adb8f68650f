import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
/** Where issued files (ID-card PDFs) are kept: a local directory now, an object store later. */
export interface ObjectStorage {
  /** Replaces any object under the key; readers see the old bytes or the new, never a mix. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** @throws ObjectNotFoundError */
  get(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
}

export class InvalidStorageKeyError extends DomainError {
  override readonly name = 'InvalidStorageKeyError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('INVALID_STORAGE_KEY', message, options);
  }
}

export class ObjectNotFoundError extends DomainError {
  override readonly name = 'ObjectNotFoundError';

  constructor(message: string, options?: DomainErrorOptions) {
    super('OBJECT_NOT_FOUND', message, options);
  }
}

const MAX_KEY_LENGTH = 512;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Keys are relative, '/'-separated paths of plain segments. A segment may not start with a
 * dot, which rules out '.', '..' and the dot-named temp files of the local store.
 * @throws InvalidStorageKeyError
 */
export function assertStorageKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new InvalidStorageKeyError(`storage key must be 1–${MAX_KEY_LENGTH} characters`);
  const bad = key.split('/').find((segment) => !SEGMENT.test(segment));
  if (bad !== undefined) throw new InvalidStorageKeyError(`storage key ${JSON.stringify(key)} has an invalid segment ${JSON.stringify(bad)}`);
}

/** @throws InvalidStorageKeyError when the tenant slug or member id cannot be a key segment. */
export function idCardKey(tenantSlug: string, memberId: string): string {
  const key = `id-cards/${tenantSlug}/${memberId}.pdf`;
  if (tenantSlug.includes('/') || memberId.includes('/')) throw new InvalidStorageKeyError(`${key} has a '/' inside a segment`);
  assertStorageKey(key);
  return key;
}
