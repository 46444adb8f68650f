import type { DatabasePool } from 'slonik';
import { findTenantBySlug, type Tenant } from '../../src/tenants/tenants.ts';
import { ApiError } from './errors.ts';

/** The party an anonymous caller names by its slug. @throws ApiError 404 when there is none. */
export async function partyBySlug(pool: DatabasePool, slug: string): Promise<Tenant> {
  const tenant = await findTenantBySlug(pool, slug);
  if (!tenant) throw ApiError.notFound('party');
  return tenant;
}
