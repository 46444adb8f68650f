import { randomBytes } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { issueToken } from '../../../src/auth/tokens.ts';
import { masterKeyFromBase64, type MasterKey } from '../../../src/crypto/master-key.ts';
import { withTenant } from '../../../src/db/tenant-context.ts';
import { Keyring } from '../../../src/tenants/keyring.ts';
import { createTenant, type Tenant } from '../../../src/tenants/tenants.ts';
import { createUser, type UserRole } from '../../../src/users/users.ts';
import { makeCommittee, seedMiniGeography, type MiniGeography } from '../../support/fixtures.ts';
import { makeWebhookSecret } from '../../support/webhooks.ts';

/** The secrets the worker and API children are given, and the test keeps to talk to them. */
export interface Secrets {
  masterKeyBase64: string;
  masterKey: MasterKey;
  authTokenSecret: string;
  platformAdminKey: string;
}

export function makeSecrets(): Secrets {
  const masterKeyBase64 = randomBytes(32).toString('base64');
  return {
    masterKeyBase64, masterKey: masterKeyFromBase64(masterKeyBase64), authTokenSecret: randomBytes(32).toString('base64'),
    platformAdminKey: randomBytes(24).toString('hex'),
  };
}

/** A party with geography, a municipality committee, its head and a treasurer, each with a bearer token. */
export interface Party {
  tenant: Tenant;
  geo: MiniGeography;
  keyring: Keyring;
  committeeId: string;
  headToken: string;
  treasurerToken: string;
  /** The party's webhook secret for esewa. */
  webhookSecret: string;
}

export async function userWithToken(app: DatabasePool, secrets: Secrets, tenantId: string, email: string, roles: UserRole[], headOf?: string): Promise<string> {
  const userId = await withTenant(app, { tenantId, actor: 'test' }, async (tx) => {
    const { id } = await createUser(tx, tenantId, { email, displayName: email.split('@')[0] ?? email, password: 'a long enough password', roles });
    if (headOf) await tx.query(sql.unsafe`INSERT INTO committee_roles (tenant_id, committee_id, user_id, role) VALUES (${tenantId}, ${headOf}, ${id}, 'head')`);
    return id;
  });
  return (await issueToken(Buffer.from(secrets.authTokenSecret, 'base64'), { userId, tenantId })).token;
}

/** Seeds the party as the app role (geography as the owner role); geography `code` must differ per party. */
export async function seedParty(db: { app: DatabasePool; owner: DatabasePool }, secrets: Secrets, slug: string, code = 'F1'): Promise<Party> {
  const geo = await seedMiniGeography(db.owner, code);
  const keyring = new Keyring(secrets.masterKey);
  const tenant = await createTenant(db.app, keyring, {
    slug, name: `Party ${slug}`, memberNumberPrefix: 'FT', feeSchedule: { currency: 'NPR', admissionFeeMinor: 50_000 },
  }, 'test');
  const committeeId = await makeCommittee(db.app, tenant.id, geo.localLevelId, 'Municipality Committee');
  const headToken = await userWithToken(db.app, secrets, tenant.id, `head@${slug}.test`, [], committeeId);
  const treasurerToken = await userWithToken(db.app, secrets, tenant.id, `treasurer@${slug}.test`, ['treasurer']);
  const webhookSecret = await makeWebhookSecret(db.app, keyring, tenant.id, 'esewa');
  return { tenant, geo, keyring, committeeId, headToken, treasurerToken, webhookSecret };
}
