import { withTenant, type TenantContext, type TenantTransaction } from '../../src/db/tenant-context.ts';
import type { AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';

/** Whose own changes a read must see: one signed-in user of one party. */
export const readerOf = (auth: AuthContext): string => `${auth.tenantId}:${auth.userId}`;

/**
 * Read-only tenant work where slight lag is acceptable (search, statistics, dues figures): on the
 * replica when one is configured and it has the user's own changes, else on the primary.
 * Only for work that writes nothing: a replica refuses writes.
 */
export function readInTenant<T>(deps: Pick<ApiDeps, 'pool' | 'reads'>, auth: AuthContext, context: TenantContext, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  return deps.reads ? deps.reads.read(readerOf(auth), context, work) : withTenant(deps.pool, context, work);
}
