import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import {
  committeesByIds, committeesOnNodes, geographyByIds, invoicesByIds, invoicesOfMembers, paymentsOfInvoices,
  type GraphCommittee, type GraphGeography, type GraphInvoice, type GraphPayment,
} from '../../src/graph/graph-reads.ts';
import { findMembers, membersOfCommittees, type MemberView } from '../../src/members/member-queries.ts';
import { readStatisticsOfNodes, type GeographyStatistics } from '../../src/statistics/member-statistics.ts';
import type { Keyring, TenantKeys } from '../../src/tenants/keyring.ts';
import { hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';

/** The roles that read any member of the party, as the REST routes have them. */
export const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;

/** What every resolver of one request shares: the caller, the request's one tenant-bound transaction, and its loaders. */
export interface GraphContext {
  auth: AuthContext;
  tx: TenantTransaction;
  loaders: Loaders;
  /** The tenant's keys, read once per request and only when a contact field is asked for. */
  keys(): Promise<TenantKeys>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An id as the database stores it, or null when it cannot name a row (so a malformed id is simply not found). */
export const canonicalId = (id: string): string | null => (UUID.test(id) ? id.toLowerCase() : null);

/** Rows by id, in the order asked, null for an id with no row. */
function byId<T extends { id: string }>(load: (ids: readonly string[]) => Promise<readonly T[]>) {
  return new DataLoader<string, T | null>(async (ids) => {
    const rows = new Map((await load(ids)).map((row) => [row.id, row]));
    return ids.map((id) => rows.get(id) ?? null);
  });
}

/** Rows grouped by a key, every key answered (an empty list when it has none). */
function grouped<T>(load: (keys: readonly string[]) => Promise<readonly T[]>, keyOf: (row: T) => string) {
  return new DataLoader<string, T[]>(async (keys) => {
    const groups = new Map<string, T[]>(keys.map((key) => [key, []]));
    for (const row of await load(keys)) groups.get(keyOf(row))?.push(row);
    return keys.map((key) => groups.get(key)!);
  });
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * One DataLoader per kind of read, made per request (nothing cached across requests or
 * callers): every field resolved in the same tick is asked for in one statement.
 */
export function createLoaders(tx: TenantTransaction, auth: AuthContext) {
  const committeeMembers = new Map<string, DataLoader<string, MemberView[]>>();
  return {
    member: byId((ids) => findMembers(tx, ids)),
    geography: byId<GraphGeography>((ids) => geographyByIds(tx, ids)),
    committee: byId<GraphCommittee>((ids) => committeesByIds(tx, ids)),
    committeeOnNode: new DataLoader<string, GraphCommittee | null>(async (nodeIds) => {
      const rows = new Map((await committeesOnNodes(tx, nodeIds)).map((c) => [c.geographyId, c]));
      return nodeIds.map((id) => rows.get(id) ?? null);
    }),
    invoice: byId<GraphInvoice>((ids) => invoicesByIds(tx, ids)),
    invoicesOfMember: grouped<GraphInvoice>((ids) => invoicesOfMembers(tx, ids), (i) => i.memberId),
    paymentsOfInvoice: grouped<GraphPayment>((ids) => paymentsOfInvoices(tx, ids), (p) => p.invoiceId),
    statistics: new DataLoader<string, GeographyStatistics>(async (ids) => {
      const stats = await readStatisticsOfNodes(tx, ids);
      return ids.map((id) => stats.get(id)!);
    }),
    /** A committee's newest members, per page size and status: one loader (one statement) for each such pair. */
    committeeMembers(limit: number, status: string | undefined): DataLoader<string, MemberView[]> {
      const key = `${limit}:${status ?? ''}`;
      let loader = committeeMembers.get(key);
      if (!loader) {
        const withinPaths = hasRole(auth, ...STAFF) ? undefined : auth.headships.map((h) => h.geographyPath);
        loader = grouped((ids) => membersOfCommittees(tx, ids, { limit, status, withinPaths }), (m) => m.committeeId ?? '');
        committeeMembers.set(key, loader);
      }
      return loader;
    },
  };
}

export function createContext(tx: TenantTransaction, auth: AuthContext, keyring: Keyring): GraphContext {
  let keys: Promise<TenantKeys> | undefined;
  return { auth, tx, loaders: createLoaders(tx, auth), keys: () => (keys ??= keyring.forTenant(tx, auth.tenantId)) };
}

/** An error a client is told, with the code the REST API would answer with. */
export function refusal(code: 'FORBIDDEN' | 'INVALID_PARAMETER', message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** Staff, or a head of any committee: who may read the party's members and committees at all (GET /api/members). */
export function mayReadMembers(auth: AuthContext): boolean {
  return hasRole(auth, ...STAFF) || auth.headships.length > 0;
}

/** Who may read this member (GET /api/members/{id}): staff, or a head whose area covers the member's ward. */
export function mayReadMember(auth: AuthContext, member: Pick<MemberView, 'geographyPath'>): boolean {
  return hasRole(auth, ...STAFF) || headsAreaOf(auth, member.geographyPath);
}

/** Who may read a node's statistics (GET /api/statistics/geography/{id}): tenant_admin, registrar, ops, or a head covering the node. */
export function mayReadStatistics(auth: AuthContext, node: Pick<GraphGeography, 'path'>): boolean {
  return hasRole(auth, 'tenant_admin', 'registrar', 'ops') || headsAreaOf(auth, node.path);
}

/** The area paths a caller's member reads are limited to: none for staff (the whole party), the headships' otherwise. */
export function withinPathsOf(auth: AuthContext): string[] | undefined {
  return hasRole(auth, ...STAFF) ? undefined : auth.headships.map((h) => h.geographyPath);
}
