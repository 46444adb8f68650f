import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MASTER_KEY_ID = '00000000-0000-4000-8000-000000000001';

/** The key that wraps every tenant's data keys. It never reaches the database. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

export function masterKeyFromBase64(value: string): MasterKey {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error('MASTER_KEY must be 32 bytes in base64');
  return { id: MASTER_KEY_ID, key };
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
