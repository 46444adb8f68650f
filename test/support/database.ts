import { randomBytes } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { createDatabasePool } from '../../src/db/pool.ts';
import { bootstrapDatabase, type DatabaseUrls } from '../../src/db/bootstrap.ts';
import { TEMPLATE_DATABASE } from './servers.ts';

export interface TestDatabase extends DatabaseUrls {
  name: string;
  /** Connected as the application role: row-level security is in force. */
  app: DatabasePool;
  /** Connected as the owner role, for fixtures only the operator may write (geography). */
  owner: DatabasePool;
  close(): Promise<void>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: integration tests run under test/support/global-setup.ts`);
  return value;
}

/** A fresh, migrated database for one test file, copied from the template global setup made. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sadasya_test_${randomBytes(6).toString('hex')}`;
  if (!/_test_/.test(name)) throw new Error(`refusing to use database ${name}: its name does not say it is for tests`);
  const urls = await bootstrapDatabase(requireEnv('TEST_PG_SUPERUSER_URL'), {
    database: name,
    ownerPassword: requireEnv('TEST_PG_OWNER_PASSWORD'),
    appPassword: requireEnv('TEST_PG_APP_PASSWORD'),
    template: TEMPLATE_DATABASE,
  });
  const app = await createDatabasePool(urls.appUrl, { maximumPoolSize: 20 });
  const owner = await createDatabasePool(urls.ownerUrl, { maximumPoolSize: 4 });
  return {
    ...urls,
    name,
    app,
    owner,
    async close() {
      await Promise.all([app.end(), owner.end()]);
    },
  };
}
