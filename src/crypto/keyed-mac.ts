import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 under `key` of `<purpose>:<field>:<field>…`. The purpose comes first, so one key
 * serves several purposes (a status link, a resignation link, an application digest) without
 * a MAC made for one standing for another.
 */
export function purposeMac(key: Buffer, purpose: string, ...fields: string[]): Buffer {
  return createHmac('sha256', key).update([purpose, ...fields].join(':')).digest();
}

/** Whether two byte strings are equal, in time that does not depend on where they differ. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
