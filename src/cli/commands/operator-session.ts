import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'slonik';
import { z } from 'zod';
import { config, ConfigError, type Config } from '../../config.ts';
import { createDatabasePool, type DatabasePool } from '../../db/pool.ts';
import type { TenantTransaction } from '../../db/tenant-context.ts';
import { configuredPayloadCodec, temporalDataConverter } from '../../temporal/payload-codec.ts';
import { findTenantBySlug, type Tenant } from '../../tenants/tenants.ts';
import { OperatorError } from './operator-command.ts';

/** The audit actor of everything the CLI writes: `cli:<os user>`. */
export function operatorActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    // No passwd entry for this uid (some containers).
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * Runs `work` with a one-connection pool as the application role (DATABASE_URL), so
 * row-level security applies to the operator as to the API.
 * @throws ConfigError when DATABASE_URL is not set.
 */
export async function withApplicationPool<T>(command: string, work: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const url = config().DATABASE_URL;
  if (!url) throw new ConfigError(`DATABASE_URL is not set: ${command} connects as the application role`);
  const pool = await createDatabasePool(url, { maximumPoolSize: 1 });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Runs `work` with a Temporal client of TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, closed after.
 * With `payloads` the client encrypts and decrypts payloads as the API and worker do (it needs
 * the master key); without, it reads and writes none (visibility, deployments).
 * @throws ConfigError naming what the command needs Temporal for when TEMPORAL_ADDRESS is not set.
 */
export async function withTemporal<T>(needs: string, work: (client: Client, settings: Config) => Promise<T>, options: { payloads?: boolean } = {}): Promise<T> {
  const settings = config();
  if (!settings.TEMPORAL_ADDRESS) throw new ConfigError(`TEMPORAL_ADDRESS is not set: ${needs}`);
  const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  try {
    const dataConverter = options.payloads ? temporalDataConverter(configuredPayloadCodec(settings)) : undefined;
    return await work(new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE, ...(dataConverter && { dataConverter }) }), settings);
  } finally {
    await connection.close();
  }
}

/** @throws OperatorError naming --tenant when no party has this slug. */
export async function requireTenant(pool: DatabasePool, slug: string): Promise<Tenant> {
  const tenant = await findTenantBySlug(pool, slug);
  if (!tenant) throw new OperatorError(`--tenant: no party with slug "${slug}"`);
  return tenant;
}

/** The id of the tenant's active user with this email. @throws OperatorError naming --user. */
export async function requireUserId(tx: TenantTransaction, email: string): Promise<string> {
  const id = await tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM users WHERE email = ${email.trim().toLowerCase()} AND is_active`);
  if (!id) throw new OperatorError(`--user: no active user with email ${email} in this party`);
  return id;
}
