import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DomainError } from '../errors/domain-error.ts';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export class DecryptionError extends DomainError {
  override readonly name = 'DecryptionError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('DECRYPTION_FAILED', message, options);
  }
}

function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * AES-256-GCM. Output: version (1) | key id (16) | iv (12) | tag (16) | ciphertext.
 * `aad` binds the ciphertext to where it belongs (tenant, field, record), so it cannot be
 * copied into another row or column and still decrypt.
 */
export function seal(key: Buffer, keyId: string, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), uuidToBytes(keyId), iv, cipher.getAuthTag(), body]);
}

/** The id of the key a sealed value was made with. @throws DecryptionError when malformed. */
export function sealedKeyId(sealed: Buffer): string {
  if (sealed.length < HEADER_BYTES || sealed[0] !== VERSION) throw new DecryptionError('unknown ciphertext format');
  return bytesToUuid(sealed.subarray(1, 1 + KEY_ID_BYTES));
}

/** @throws DecryptionError when the key, the aad or the bytes are wrong. */
export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  sealedKeyId(sealed);
  const ivStart = 1 + KEY_ID_BYTES;
  const iv = sealed.subarray(ivStart, ivStart + IV_BYTES);
  const tag = sealed.subarray(ivStart + IV_BYTES, HEADER_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
  } catch (err) {
    throw new DecryptionError('ciphertext does not authenticate', { cause: err });
  }
}
