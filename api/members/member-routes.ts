import { isoDate, isoDateTime, text } from '../../src/validation/fields.ts';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { geographyPath } from '../../src/geography/geography-queries.ts';
import { findMember, searchMembers, type MemberView } from '../../src/members/member-queries.ts';
import { lookupBlindIndexes, normalizePhone } from '../../src/members/personal-data.ts';
import { MEMBER_STATUSES } from '../../src/members/member-status.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf, type AuthContext } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { encodeKeysetCursor, KeysetPage } from '../http/keyset-cursor.ts';
import { responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { memberPlaces } from '../../src/members/member-places.ts';
import { included, MemberAttributes, memberFields, MemberFieldsParam, memberResource, sparse, type Include } from './presenter.ts';

const STAFF = ['tenant_admin', 'registrar', 'ops', 'treasurer'] as const;
const IncludeParam = z.string().regex(/^(geography|committee)(,(geography|committee))?$/, 'comma-separated: geography, committee').optional();
const includes = (param: string | undefined) => (param ? (param.split(',') as Include[]) : []);
const encodeCursor = (m: MemberView) => encodeKeysetCursor(m.registeredAt, m.id);

const SearchQuery = z.object({
  filter: z.object({
    name: text(2, 100).optional(),
    phone: z.string().trim().min(6).max(32).optional(),
    status: z.enum(MEMBER_STATUSES).optional(),
    geography: z.uuid().optional(),
    committee: z.uuid().optional(),
    registeredFrom: isoDateTime.or(isoDate).optional(),
    registeredTo: isoDateTime.or(isoDate).optional(),
  }).strict().optional(),
  page: KeysetPage,
  sort: z.enum(['-registeredAt', 'registeredAt']).default('-registeredAt')
    .describe('newest first (the default), or `registeredAt` for oldest first: a head\'s inbox, who has waited longest'),
  include: IncludeParam,
  fields: MemberFieldsParam,
}).strict();

const canSeeContacts = (auth: AuthContext) => hasRole(auth, 'tenant_admin', 'registrar');

export function memberRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'keyring'>): void {
  const inTenant = <T>(auth: AuthContext, work: Parameters<typeof withTenant<T>>[2]) =>
    withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` }, work);

  registry.add({
    method: 'get',
    path: '/api/members/:id',
    summary: 'Read a member (staff, or heads of a committee covering the member)',
    tag: 'members',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    query: z.object({ include: IncludeParam }).strict(),
    responses: { 200: { description: 'the member', schema: responseDocument('members', MemberAttributes) } },
    async handler({ params, query, auth }) {
      return inTenant(auth, async (tx) => {
        const member = await findMember(tx, params.id);
        if (!member) throw ApiError.notFound('member');
        if (!hasRole(auth, ...STAFF) && !headsAreaOf(auth, member.geographyPath)) throw ApiError.forbidden('not your area');
        const keys = canSeeContacts(auth) || headsAreaOf(auth, member.geographyPath) ? await deps.keyring.forTenant(tx, auth.tenantId) : undefined;
        const place = (await memberPlaces(tx, [member]))(member);
        return { status: 200, body: { data: memberResource(member, place, keys, { personal: true }), included: await included(tx, [member], includes(query.include)) } };
      });
    },
  });

  registry.add({
    method: 'get',
    path: '/api/members',
    summary: 'Search members: name, phone, status, geography subtree, committee, registration dates; cursor pages',
    tag: 'members',
    access: 'user',
    query: SearchQuery,
    callerTransaction: 'with keys',
    responses: { 200: { description: 'a page of members, newest first unless sort says otherwise', schema: z.object({ data: z.array(z.unknown()), included: z.array(z.unknown()).optional(), links: z.object({ next: z.string().nullable() }) }) } },
    async handler({ query, auth, tx: inTransaction, keys: partyKeys }) {
      const tx = inTransaction!;
      const staff = hasRole(auth, ...STAFF);
      if (!staff && auth.headships.length === 0) throw ApiError.forbidden('searching members needs a staff role or a committee headship');
      const filter = query.filter ?? {};
      const size = query.page?.size ?? 25;
      const fields = memberFields(query.fields);
      const named = (...names: string[]) => !fields || names.some((name) => fields.has(name));
      // The keys (read with the caller) only when a phone is looked up or contacts are shown; the places only when named.
      const contacts = canSeeContacts(auth) && named('phone', 'email');
      const keys = filter.phone || contacts ? partyKeys : undefined;
      const node = filter.geography ? await geographyPath(tx, filter.geography) : undefined;
      if (filter.geography && !node) throw new ApiError('UNKNOWN_GEOGRAPHY', 'no such geography node', { parameter: 'filter[geography]' });
      const phone = filter.phone ? phoneIndex(keys!, filter.phone) : undefined;
      const members = await searchMembers(tx, {
        name: filter.name, phoneBidx: phone, status: filter.status, geographyPath: node ?? undefined, committeeId: filter.committee,
        registeredFrom: filter.registeredFrom, registeredTo: filter.registeredTo,
        withinPaths: staff ? undefined : auth.headships.map((h) => h.geographyPath), after: query.page?.cursor && { registeredAt: query.page.cursor.at, id: query.page.cursor.id },
        oldestFirst: query.sort === 'registeredAt', limit: size + 1,
      });
      const page = members.slice(0, size);
      const next = members.length > size && page.length ? `/api/members?${nextQuery(query, encodeCursor(page[page.length - 1]!))}` : null;
      const places = named('wardName', 'committeeName') ? await memberPlaces(tx, page) : () => UNNAMED;
      const data = page.map((m) => sparse(memberResource(m, places(m), contacts ? keys : undefined), fields));
      return { status: 200, body: { data, included: await included(tx, page, includes(query.include)), links: { next } } };
    },
  });
}

/** The place of a member whose ward and committee names were not asked for (sparse fieldsets drop them). */
const UNNAMED = { wardName: { en: '', ne: null }, committeeName: null };

function phoneIndex(keys: Parameters<typeof lookupBlindIndexes>[0], raw: string): Buffer[] {
  try {
    return lookupBlindIndexes(keys, 'phone', normalizePhone(raw));
  } catch {
    throw new ApiError('INVALID_PARAMETER', 'filter[phone]: not a valid phone number', { parameter: 'filter[phone]' });
  }
}

function nextQuery(query: z.output<typeof SearchQuery>, cursor: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query.filter ?? {})) if (value !== undefined) params.set(`filter[${key}]`, String(value));
  params.set('page[size]', String(query.page?.size ?? 25));
  params.set('page[cursor]', cursor);
  if (query.sort !== '-registeredAt') params.set('sort', query.sort);
  if (query.include) params.set('include', query.include);
  if (query.fields) params.set('fields[members]', query.fields.members);
  return params.toString();
}
