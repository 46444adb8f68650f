import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const DevSecrets = z.object({
  superuserPassword: z.string(),
  ownerPassword: z.string(),
  appPassword: z.string(),
  authTokenSecret: z.string(),
  platformAdminKey: z.string(),
});
export type DevSecrets = z.infer<typeof DevSecrets>;

/**
 * Development secrets (database passwords, the API's token secret, the platform admin key),
 * generated on first start into `<dataDir>/dev-secrets.json` (0600). Payment providers' webhook
 * secrets are each party's own, made with `webhook:secret:create`.
 */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  const secret = () => randomBytes(18).toString('hex');
  const fresh = {
    superuserPassword: secret(),
    ownerPassword: secret(),
    appPassword: secret(),
    authTokenSecret: randomBytes(32).toString('base64'),
    platformAdminKey: randomBytes(24).toString('hex'),
  };
  let existing: Partial<DevSecrets> = {};
  try {
    existing = DevSecrets.partial().parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (DevSecrets.safeParse(existing).success) return existing as DevSecrets;
  const secrets = { ...fresh, ...existing };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
