import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The id every wrap carried before master keys had their own ids: a row wrapped under it may be
 * opened by any master key the process holds (there was only ever one before a rotation).
 */
export const LEGACY_MASTER_KEY_ID = '00000000-0000-4000-8000-000000000001';

/** The key that wraps every tenant's data keys. It never reaches the database. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/** The master key's own id, written into each wrap it makes: an HMAC under the key itself, so it names the key without revealing it. */
export function masterKeyId(key: Buffer): string {
  const hex = createHmac('sha256', key).update('sadasya master key id').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function masterKeyFromBase64(value: string, variable = 'MASTER_KEY'): MasterKey {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error(`${variable} must be 32 bytes in base64`);
  return { id: masterKeyId(key), key };
}

/**
 * Development only: reads the master key from `<dataDir>/master.key`, generating it on first
 * start (mode 0600). Production sets MASTER_KEY instead; the file is never committed.
 */
export function loadOrCreateDevMasterKey(dataDir: string): MasterKey {
  const file = path.join(dataDir, 'master.key');
  try {
    return masterKeyFromBase64(readFileSync(file, 'utf8').trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return masterKeyFromBase64(readFileSync(file, 'utf8').trim());
}

/**
 * MASTER_KEY from configuration; outside production, the generated development key.
 * @throws Error in production when MASTER_KEY is missing.
 */
export function resolveMasterKey(settings: { MASTER_KEY?: string | undefined; NODE_ENV: string; DATA_DIR: string }): MasterKey {
  if (settings.MASTER_KEY) return masterKeyFromBase64(settings.MASTER_KEY);
  if (settings.NODE_ENV === 'production') throw new Error('MASTER_KEY must be set in production (32 random bytes, base64)');
  return loadOrCreateDevMasterKey(settings.DATA_DIR);
}

/**
 * The master keys a process holds: MASTER_KEY wraps, and during a master-key rotation
 * MASTER_KEY_PREVIOUS (the key being retired) still unwraps what it wrapped until
 * `keys:rewrap-master` has moved every wrap to MASTER_KEY.
 */
export function resolveMasterKeys(settings: { MASTER_KEY?: string | undefined; MASTER_KEY_PREVIOUS?: string | undefined; NODE_ENV: string; DATA_DIR: string }): { current: MasterKey; previous: MasterKey[] } {
  const current = resolveMasterKey(settings);
  const previous = settings.MASTER_KEY_PREVIOUS ? [masterKeyFromBase64(settings.MASTER_KEY_PREVIOUS, 'MASTER_KEY_PREVIOUS')] : [];
  return { current, previous: previous.filter((key) => key.id !== current.id) };
}
