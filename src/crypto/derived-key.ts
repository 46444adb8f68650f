import { hkdfSync } from 'node:crypto';
import type { MasterKey } from './master-key.ts';

/**
 * A 32-byte key for one purpose, derived from the master key with HKDF-SHA256 (RFC 5869), the
 * purpose in its info: keys of different purposes are independent, none reveals the master key,
 * and each is the same wherever the same master key is configured. A subject (e.g. a tenant)
 * gives each its own key for the purpose.
 */
export function deriveKey(master: MasterKey, purpose: string, subject?: string): Buffer {
  const info = subject === undefined ? `sadasya|${purpose}` : `sadasya|${purpose}|${subject}`;
  return Buffer.from(hkdfSync('sha256', master.key, Buffer.alloc(0), info, 32));
}
