import { createHash } from 'node:crypto';

/**
 * A UUID (version 8, RFC 9562) that is a function of `name`: every attempt of one step, or
 * every repeat of one request, names the same thing. Not a secret: derive from a secret
 * yourself if the id must not be guessable.
 */
export function derivedUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
