import {
  GraphQLBoolean, GraphQLEnumType, GraphQLID, GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType,
  GraphQLSchema, GraphQLString, type GraphQLFieldConfig, type GraphQLInputType, type GraphQLNullableOutputType,
} from 'graphql';
import { z } from 'zod';
import type { GraphCommittee, GraphGeography, GraphInvoice, GraphPayment } from '../../src/graph/graph-reads.ts';
import { searchMembers, type MemberView } from '../../src/members/member-queries.ts';
import { MEMBER_STATUSES, PUBLIC_STATUSES, publicStatusOf, type MemberStatus } from '../../src/members/member-status.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import { listCommittees } from '../../src/graph/graph-reads.ts';
import type { GeographyStatistics } from '../../src/statistics/member-statistics.ts';
import { isoDate, isoDateTime } from '../../src/validation/fields.ts';
import { hasRole } from '../auth/context.ts';
import {
  canonicalId, mayReadMember, mayReadMembers, mayReadStatistics, refusal, withinPathsOf, type GraphContext,
} from './context.ts';
import type { ListSize } from './limits.ts';

/** The largest page any list field serves. */
export const MAX_PAGE = 100;

const nonNull = <T extends GraphQLNullableOutputType>(type: T) => new GraphQLNonNull(type);
const listOf = <T extends GraphQLNullableOutputType>(type: T) => new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(type)));
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Instant = { type: GraphQLString, description: 'RFC 3339, UTC' };
const paged = (defaultSize: number): { extensions: { listSize: ListSize }; args: Record<string, { type: GraphQLInputType; default?: { value: unknown }; description?: string }> } => ({
  extensions: { listSize: { sizeArgument: 'first', maxSize: MAX_PAGE } },
  args: { first: { type: GraphQLInt, default: { value: defaultSize }, description: `page size, 1 to ${MAX_PAGE}` } },
});

function pageSize(first: unknown): number {
  const size = typeof first === 'number' ? first : 25;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) throw refusal('INVALID_PARAMETER', `first: a page size from 1 to ${MAX_PAGE}`);
  return size;
}

/** Contact details: tenant_admin and registrar only (as GET /api/members lists them); heads read one member at a time over REST. */
const canSeeContacts = (ctx: GraphContext) => hasRole(ctx.auth, 'tenant_admin', 'registrar');

/** The member, if the caller may read it (staff, or a head whose area covers it). @throws FORBIDDEN otherwise. */
function visible(ctx: GraphContext, member: MemberView | null): MemberView | null {
  if (member && !mayReadMember(ctx.auth, member)) throw refusal('FORBIDDEN', 'not your area: the member lies outside every committee you head');
  return member;
}

/** The committee, if the caller may look it up: staff any, a head those in their areas. @throws FORBIDDEN otherwise. */
function visibleCommittee(ctx: GraphContext, committee: GraphCommittee | null): GraphCommittee | null {
  const within = withinPathsOf(ctx.auth);
  if (committee && within && !within.some((p) => committee.geographyPath === p || committee.geographyPath.startsWith(`${p}.`))) {
    throw refusal('FORBIDDEN', 'not your area: the committee lies outside every committee you head');
  }
  return committee;
}

const MemberStatusEnum = new GraphQLEnumType({
  name: 'MemberStatus', description: 'the recorded status (members.status)',
  values: Object.fromEntries(MEMBER_STATUSES.map((s) => [s, { value: s }])),
});
const PublicStatusEnum = new GraphQLEnumType({
  name: 'PublicStatus', description: 'what an applicant is told: pending until a decision is final',
  values: Object.fromEntries(PUBLIC_STATUSES.map((s) => [s, { value: s }])),
});

const PageInfo = new GraphQLObjectType({
  name: 'PageInfo',
  fields: { endCursor: { type: GraphQLString }, hasNextPage: { type: nonNull(GraphQLBoolean) } },
});

const StatusCount = new GraphQLObjectType<[MemberStatus, number]>({
  name: 'StatusCount',
  fields: { status: { type: nonNull(MemberStatusEnum), resolve: ([s]) => s }, count: { type: nonNull(GraphQLInt), resolve: ([, n]) => n } },
});

const Statistics = new GraphQLObjectType<GeographyStatistics>({
  name: 'Statistics',
  description: "members per status over a geography node's whole subtree, from the read model (as GET /api/statistics/geography/{id})",
  fields: {
    total: { type: nonNull(GraphQLInt) },
    byStatus: { type: listOf(StatusCount), description: 'every status, zeros included', extensions: { listSize: { assumedSize: MEMBER_STATUSES.length } },
      resolve: (s) => MEMBER_STATUSES.map((status) => [status, s.byStatus[status]]) },
  },
});

/** A node's statistics, if the caller may read them. */
async function statisticsOf(ctx: GraphContext, node: GraphGeography): Promise<GeographyStatistics> {
  if (!mayReadStatistics(ctx.auth, node)) throw refusal('FORBIDDEN', 'statistics are for tenant_admin, registrar, ops, or a head whose area covers the node');
  return ctx.loaders.statistics.load(node.id);
}

const GeographyNode: GraphQLObjectType<GraphGeography, GraphContext> = new GraphQLObjectType<GraphGeography, GraphContext>({
  name: 'GeographyNode',
  description: 'a province, district, local level or ward (shared by every party)',
  fields: () => ({
    id: { type: nonNull(GraphQLID) },
    type: { type: nonNull(GraphQLString) },
    code: { type: nonNull(GraphQLString) },
    nameEn: { type: nonNull(GraphQLString) },
    nameNe: { type: GraphQLString },
    path: { type: nonNull(GraphQLString) },
    validFrom: { type: nonNull(GraphQLString), description: 'YYYY-MM-DD' },
    validTo: { type: GraphQLString, description: 'YYYY-MM-DD, the first day it is no longer valid; null while it is' },
    parent: { type: GeographyNode, resolve: (node, _a, ctx) => (node.parentId ? ctx.loaders.geography.load(node.parentId) : null) },
    committee: { type: Committee, description: "the party's committee on this node, if it has one: for staff, and heads within their areas",
      resolve: async (node, _a, ctx) => {
        needsReader(ctx);
        return visibleCommittee(ctx, await ctx.loaders.committeeOnNode.load(node.id));
      } },
    statistics: { type: Statistics, description: 'tenant_admin, registrar, ops, or a head whose area covers the node', resolve: (node, _a, ctx) => statisticsOf(ctx, node) },
  }),
});

const Committee: GraphQLObjectType<GraphCommittee, GraphContext> = new GraphQLObjectType<GraphCommittee, GraphContext>({
  name: 'Committee',
  fields: () => ({
    id: { type: nonNull(GraphQLID) },
    name: { type: nonNull(GraphQLString) },
    dissolved: { type: nonNull(GraphQLBoolean) },
    geography: { type: nonNull(GeographyNode), resolve: (c, _a, ctx) => ctx.loaders.geography.load(c.geographyId) },
    members: {
      type: listOf(Member),
      description: "the committee's newest members (those the caller may read); page through more with Query.members(filter: {committee})",
      ...paged(10),
      args: { ...paged(10).args, status: { type: MemberStatusEnum } },
      resolve: (c, args: { first?: number; status?: string }, ctx) => ctx.loaders.committeeMembers(pageSize(args.first), args.status ?? undefined).load(c.id),
    },
    statistics: { type: Statistics, description: "its node's; who may read them as GeographyNode.statistics",
      resolve: async (c, _a, ctx) => statisticsOf(ctx, (await ctx.loaders.geography.load(c.geographyId))!) },
  }),
});

const Payment = new GraphQLObjectType<GraphPayment, GraphContext>({
  name: 'Payment',
  fields: {
    id: { type: nonNull(GraphQLID) },
    amountMinor: { type: nonNull(GraphQLInt), description: 'minor units (paisa)' },
    currency: { type: nonNull(GraphQLString) },
    provider: { type: nonNull(GraphQLString), description: "'manual' for a payment a treasurer entered" },
    reference: { type: nonNull(GraphQLString), description: "the provider's reference" },
    paidAt: { ...Instant, type: nonNull(GraphQLString), resolve: (p) => iso(p.paidAt) },
    recordedAt: { ...Instant, type: nonNull(GraphQLString), resolve: (p) => iso(p.recordedAt) },
  },
});

const Invoice: GraphQLObjectType<GraphInvoice, GraphContext> = new GraphQLObjectType<GraphInvoice, GraphContext>({
  name: 'Invoice',
  fields: () => ({
    id: { type: nonNull(GraphQLID) },
    purpose: { type: nonNull(GraphQLString), description: 'admission or renewal' },
    status: { type: nonNull(GraphQLString), description: 'open, paid or void' },
    amountMinor: { type: nonNull(GraphQLInt), description: 'minor units (paisa)' },
    currency: { type: nonNull(GraphQLString) },
    termNumber: { type: GraphQLInt, description: 'the term a renewal invoice renews' },
    issuedAt: { ...Instant, type: nonNull(GraphQLString), resolve: (i) => iso(i.issuedAt) },
    dueAt: { ...Instant, type: nonNull(GraphQLString), resolve: (i) => iso(i.dueAt) },
    paidAt: { ...Instant, resolve: (i) => iso(i.paidAt) },
    voidedAt: { ...Instant, resolve: (i) => iso(i.voidedAt) },
    member: { type: nonNull(Member), resolve: async (i, _a, ctx) => ctx.loaders.member.load(i.memberId) },
    payments: { type: listOf(Payment), extensions: { listSize: { assumedSize: 3 } }, resolve: (i, _a, ctx) => ctx.loaders.paymentsOfInvoice.load(i.id) },
  }),
});

const Member: GraphQLObjectType<MemberView, GraphContext> = new GraphQLObjectType<MemberView, GraphContext>({
  name: 'Member',
  description: 'staff read every member; a head reads those in the area of a committee they head',
  fields: () => ({
    id: { type: nonNull(GraphQLID) },
    status: { type: nonNull(PublicStatusEnum), resolve: (m) => publicStatusOf(m.status) },
    statusDetail: { type: nonNull(MemberStatusEnum), resolve: (m) => m.status },
    fullNameEn: { type: nonNull(GraphQLString) },
    fullNameNe: { type: GraphQLString },
    gender: { type: nonNull(GraphQLString) },
    memberNumber: { type: GraphQLString },
    registeredAt: { ...Instant, resolve: (m) => iso(m.registeredAt) },
    approvedAt: { ...Instant, resolve: (m) => iso(m.approvedAt) },
    activatedAt: { ...Instant, resolve: (m) => iso(m.activatedAt) },
    statusReason: { type: GraphQLString },
    statusChangedAt: { ...Instant, resolve: (m) => iso(m.statusChangedAt) },
    suspendedUntil: { ...Instant, resolve: (m) => (m.status === 'suspended' ? iso(m.suspendedUntil) : null) },
    phone: { type: GraphQLString, description: 'tenant_admin and registrar only; null for others',
      resolve: async (m, _a, ctx) => (canSeeContacts(ctx) ? decryptField(await ctx.keys(), m.id, 'phone', m.phoneEnc) : null) },
    email: { type: GraphQLString, description: 'as phone',
      resolve: async (m, _a, ctx) => (canSeeContacts(ctx) && m.emailEnc ? decryptField(await ctx.keys(), m.id, 'email', m.emailEnc) : null) },
    ward: { type: nonNull(GeographyNode), resolve: (m, _a, ctx) => ctx.loaders.geography.load(m.wardId) },
    committee: { type: Committee, resolve: (m, _a, ctx) => (m.committeeId ? ctx.loaders.committee.load(m.committeeId) : null) },
    invoices: { type: listOf(Invoice), description: 'oldest first', extensions: { listSize: { assumedSize: 5 } },
      resolve: (m, _a, ctx) => ctx.loaders.invoicesOfMember.load(m.id) },
  }),
});

const MemberConnection = new GraphQLObjectType<{ nodes: MemberView[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } }>({
  name: 'MemberConnection',
  fields: { nodes: { type: listOf(Member), extensions: { listSize: { assumedSize: 1 } } }, pageInfo: { type: nonNull(PageInfo) } },
});
const CommitteeConnection = new GraphQLObjectType<{ nodes: GraphCommittee[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } }>({
  name: 'CommitteeConnection',
  fields: { nodes: { type: listOf(Committee), extensions: { listSize: { assumedSize: 1 } } }, pageInfo: { type: nonNull(PageInfo) } },
});

const MemberFilter = new GraphQLInputObjectType({
  name: 'MemberFilter',
  description: 'as GET /api/members filters: every given condition holds',
  fields: {
    name: { type: GraphQLString, description: 'part of the English or Nepali name, 2 to 100 characters' },
    status: { type: MemberStatusEnum },
    geography: { type: GraphQLID, description: "a geography node: members in its subtree" },
    committee: { type: GraphQLID },
    registeredFrom: { type: GraphQLString, description: 'RFC 3339 or YYYY-MM-DD, inclusive' },
    registeredTo: { type: GraphQLString, description: 'RFC 3339 or YYYY-MM-DD, exclusive' },
  },
});

const FilterSchema = z.object({
  name: z.string().trim().min(2).max(100).optional(),
  status: z.enum(MEMBER_STATUSES).optional(),
  geography: z.uuid().optional(),
  committee: z.uuid().optional(),
  registeredFrom: isoDateTime.or(isoDate).optional(),
  registeredTo: isoDateTime.or(isoDate).optional(),
}).partial();

const encodeCursor = (m: MemberView) => Buffer.from(`${new Date(m.registeredAt).toISOString()}|${m.id}`).toString('base64url');
function decodeCursor(value: string): { registeredAt: string; id: string } {
  const [registeredAt, id] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (!registeredAt || !id || !isoDateTime.safeParse(registeredAt).success || !z.uuid().safeParse(id).success) throw refusal('INVALID_PARAMETER', 'after: not a cursor this API gave out');
  return { registeredAt, id };
}

const Headship = new GraphQLObjectType<{ committeeId: string }, GraphContext>({
  name: 'Headship',
  fields: { committee: { type: nonNull(Committee), resolve: (h, _a, ctx) => ctx.loaders.committee.load(h.committeeId) } },
});
const Viewer = new GraphQLObjectType<GraphContext['auth'], GraphContext>({
  name: 'Viewer',
  description: 'who is calling, as the API reads it on every request',
  fields: {
    userId: { type: nonNull(GraphQLID) },
    roles: { type: listOf(GraphQLString) },
    headships: { type: listOf(Headship), description: 'the committees the caller heads now', extensions: { listSize: { assumedSize: 3 } } },
  },
});

/** Root fields that read the party's data need a staff role or a headship, as GET /api/members does. */
function needsReader(ctx: GraphContext): void {
  if (!mayReadMembers(ctx.auth)) throw refusal('FORBIDDEN', 'reading members needs a staff role or a committee headship');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each field declares its own arguments
const queryFields: Record<string, GraphQLFieldConfig<unknown, GraphContext, any>> = {
  viewer: { type: nonNull(Viewer), resolve: (_r, _a, ctx) => ctx.auth },
  member: {
    type: Member, description: 'null when the party has no such member',
    args: { id: { type: nonNull(GraphQLID) } },
    resolve: async (_r, args: { id: string }, ctx) => {
      needsReader(ctx);
      const id = canonicalId(args.id);
      return visible(ctx, id ? await ctx.loaders.member.load(id) : null);
    },
  },
  members: {
    type: nonNull(MemberConnection), description: 'newest first; a head sees the members in their areas only',
    ...paged(25),
    args: { ...paged(25).args, after: { type: GraphQLString, description: 'pageInfo.endCursor of the page before' }, filter: { type: MemberFilter } },
    resolve: async (_r, args: { first?: number; after?: string | null; filter?: Record<string, unknown> | null }, ctx) => {
      needsReader(ctx);
      const size = pageSize(args.first);
      const parsed = FilterSchema.safeParse(Object.fromEntries(Object.entries(args.filter ?? {}).filter(([, v]) => v !== null)));
      if (!parsed.success) throw refusal('INVALID_PARAMETER', parsed.error.issues.map((i) => `filter.${i.path.join('.')}: ${i.message}`).join('; '));
      const filter = parsed.data;
      const geography = filter.geography ? await ctx.loaders.geography.load(filter.geography.toLowerCase()) : undefined;
      if (filter.geography && !geography) throw refusal('INVALID_PARAMETER', 'filter.geography: no such geography node');
      const members = await searchMembers(ctx.tx, {
        name: filter.name, status: filter.status, geographyPath: geography?.path, committeeId: filter.committee?.toLowerCase(),
        registeredFrom: filter.registeredFrom, registeredTo: filter.registeredTo, withinPaths: withinPathsOf(ctx.auth),
        after: args.after ? decodeCursor(args.after) : undefined, limit: size + 1,
      });
      const nodes = members.slice(0, size);
      for (const m of nodes) ctx.loaders.member.prime(m.id, m);
      const last = nodes[nodes.length - 1];
      return { nodes, pageInfo: { endCursor: last ? encodeCursor(last) : null, hasNextPage: members.length > size } };
    },
  },
  committee: {
    type: Committee, args: { id: { type: nonNull(GraphQLID) } },
    description: "null when the party has no such committee, or it lies outside a head's areas",
    resolve: async (_r, args: { id: string }, ctx) => {
      needsReader(ctx);
      const id = canonicalId(args.id);
      return visibleCommittee(ctx, id ? await ctx.loaders.committee.load(id) : null);
    },
  },
  committees: {
    type: nonNull(CommitteeConnection), description: "the party's committees in id order (a head: those in their areas), dissolved ones included",
    ...paged(50),
    args: { ...paged(50).args, after: { type: GraphQLString, description: 'pageInfo.endCursor of the page before' } },
    resolve: async (_r, args: { first?: number; after?: string | null }, ctx) => {
      needsReader(ctx);
      const size = pageSize(args.first);
      const after = args.after ? canonicalId(args.after) : undefined;
      if (after === null) throw refusal('INVALID_PARAMETER', 'after: not a cursor this API gave out');
      const rows = await listCommittees(ctx.tx, { limit: size + 1, after, withinPaths: withinPathsOf(ctx.auth) });
      const nodes = rows.slice(0, size);
      for (const c of nodes) ctx.loaders.committee.prime(c.id, c);
      return { nodes, pageInfo: { endCursor: nodes[nodes.length - 1]?.id ?? null, hasNextPage: rows.length > size } };
    },
  },
  geographyNode: {
    type: GeographyNode, args: { id: { type: nonNull(GraphQLID) } }, description: 'null when there is no such node',
    resolve: (_r, args: { id: string }, ctx) => {
      const id = canonicalId(args.id);
      return id ? ctx.loaders.geography.load(id) : null;
    },
  },
  statistics: {
    type: Statistics, args: { geography: { type: nonNull(GraphQLID) } },
    description: 'members per status in a node\'s subtree now; null when there is no such node',
    resolve: async (_r, args: { geography: string }, ctx) => {
      const id = canonicalId(args.geography);
      const node = id ? await ctx.loaders.geography.load(id) : null;
      return node ? statisticsOf(ctx, node) : null;
    },
  },
  invoice: {
    type: Invoice, args: { id: { type: nonNull(GraphQLID) } },
    description: "null when the party has no such invoice; readable by whoever may read its member",
    resolve: async (_r, args: { id: string }, ctx) => {
      needsReader(ctx);
      const id = canonicalId(args.id);
      const invoice = id ? await ctx.loaders.invoice.load(id) : null;
      if (invoice) visible(ctx, await ctx.loaders.member.load(invoice.memberId));
      return invoice;
    },
  },
};

/**
 * The read graph: members, committees, geography, statistics and invoices. No mutations: every
 * change goes through the REST routes (and their workflows). Every member reached by any path
 * (a committee's members, an invoice's member) passes the same check as GET /api/members/{id}.
 */
export const graphSchema = new GraphQLSchema({
  query: new GraphQLObjectType<unknown, GraphContext>({ name: 'Query', fields: queryFields }),
});

/** Members reached through another object (an invoice's) pass the member check too. */
export { visible as visibleMember };
