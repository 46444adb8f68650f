import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const DevSecrets = z.object({ superuserPassword: z.string(), ownerPassword: z.string(), appPassword: z.string() });
export type DevSecrets = z.infer<typeof DevSecrets>;

/** Development database passwords, generated on first start into `<dataDir>/dev-secrets.json` (0600). */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  try {
    return DevSecrets.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = () => randomBytes(18).toString('hex');
  const secrets = { superuserPassword: secret(), ownerPassword: secret(), appPassword: secret() };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
