import { createHash } from 'node:crypto';
import { z } from 'zod';
import { listGeography, type ListedNode } from '../../src/geography/geography-listing.ts';
import { GEOGRAPHY_TYPES } from '../../src/geography/node.ts';
import { text } from '../../src/validation/fields.ts';
import type { ApiDeps } from '../deps.ts';
import { relation, type ResourceObject } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';

/** How long a listing is kept in process, and how long clients may keep it (Cache-Control max-age). */
export const GEOGRAPHY_CACHE_TTL_SECONDS = 300;
const CACHE_ENTRIES = 2_000;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;

const Cursor = z.string().max(400).transform((value, ctx) => {
  const parsed = z.tuple([z.number().int().min(0), z.string(), z.uuid()]).safeParse((() => {
    try {
      return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    } catch {
      return null;
    }
  })());
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor this API gave out' });
    return z.NEVER;
  }
  const [wardNumber, nameEn, id] = parsed.data;
  return { wardNumber, nameEn, id };
});
const encodeCursor = (node: ListedNode) => Buffer.from(JSON.stringify([node.wardNumber ?? 0, node.nameEn, node.id])).toString('base64url');

const GeographyQuery = z.object({
  filter: z.object({
    parent: z.uuid().optional().describe("the parent node's id: a province's districts, a district's local levels, a local level's wards"),
    type: z.enum(GEOGRAPHY_TYPES).optional(),
    name: text(1, 100).optional().describe('a part of the English or Nepali name, any case'),
  }).strict().optional(),
  page: z.object({
    size: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
    cursor: Cursor.optional().describe('links.next of the previous page'),
  }).strict().optional(),
}).strict();

const NodeAttributes = z.object({
  type: z.enum(GEOGRAPHY_TYPES), category: z.string().nullable().describe('a local level\'s kind: metropolitan, sub_metropolitan, municipality, rural_municipality'),
  code: z.string(), nameEn: z.string(), nameNe: z.string().nullable(), wardNumber: z.number().nullable(), path: z.string(),
  validFrom: z.string(), validTo: z.string().nullable(),
});
const GeographyPage = z.object({
  data: z.array(z.object({
    type: z.literal('geography-nodes'), id: z.string(), attributes: NodeAttributes,
    relationships: z.object({ parent: z.object({ data: z.object({ type: z.literal('geography-nodes'), id: z.string() }).nullable() }) }),
  })),
  links: z.object({ next: z.string().nullable() }),
  meta: z.object({ validOn: z.string().describe('the day (Asia/Kathmandu) on which every listed node is in force') }),
});

interface Cached {
  body: string;
  etag: string;
  expiresAt: number;
}

/** Today's date in Nepal, where the wards are: validity dates are Nepali days. */
const nepalDay = (now: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kathmandu', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);

const resource = (node: ListedNode): ResourceObject => {
  const { id, parentId, ...attributes } = node;
  return { type: 'geography-nodes', id, attributes, relationships: { parent: relation('geography-nodes', parentId) } };
};

function nextLink(query: z.output<typeof GeographyQuery>, size: number, cursor: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query.filter ?? {})) if (value !== undefined) params.set(`filter[${key}]`, String(value));
  params.set('page[size]', String(size));
  params.set('page[cursor]', cursor);
  return `/api/geography?${params.toString()}`;
}

/**
 * Nepal's administrative divisions for anyone choosing a ward (the apply page's pickers):
 * public, the same for every party, cached in process and by clients.
 */
export function geographyRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'clock'>): void {
  const cache = new Map<string, Cached>();

  registry.add({
    method: 'get',
    path: '/api/geography',
    summary: `Provinces, districts, local levels and wards in force today, by parent, type or name (English or Nepali); cached ${GEOGRAPHY_CACHE_TTL_SECONDS} s, with ETag`,
    tag: 'geography',
    access: 'public',
    query: GeographyQuery,
    headers: z.object({ 'if-none-match': z.string().max(1_000).optional().describe('the ETag of a listing held: 304 when it is still the same') }),
    responses: {
      200: { description: `nodes in force today (Asia/Kathmandu), wards by number and others by English name; Cache-Control allows ${GEOGRAPHY_CACHE_TTL_SECONDS} s, ETag names the content`, schema: GeographyPage },
      304: { description: 'the listing named by If-None-Match is still current; no body' },
    },
    async handler({ query, headers, res }) {
      const now = deps.clock();
      const day = nepalDay(now);
      const size = query.page?.size ?? DEFAULT_PAGE;
      const key = JSON.stringify([day, query.filter ?? {}, size, query.page?.cursor ?? null]);
      let entry = cache.get(key);
      if (!entry || entry.expiresAt <= now.getTime()) {
        const rows = await listGeography(deps.pool, { parentId: query.filter?.parent, type: query.filter?.type, name: query.filter?.name, on: day, after: query.page?.cursor, limit: size + 1 });
        const page = rows.slice(0, size);
        const next = rows.length > size ? nextLink(query, size, encodeCursor(page[page.length - 1]!)) : null;
        const body = JSON.stringify({ data: page.map(resource), links: { next }, meta: { validOn: day } });
        entry = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, expiresAt: now.getTime() + GEOGRAPHY_CACHE_TTL_SECONDS * 1_000 };
        cache.delete(key);
        if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
        cache.set(key, entry);
      }
      res.setHeader('etag', entry.etag);
      res.setHeader('cache-control', `public, max-age=${GEOGRAPHY_CACHE_TTL_SECONDS}`);
      const held = headers['if-none-match']?.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
      if (held?.includes(entry.etag) || held?.includes('*')) {
        res.status(304).end();
        return undefined;
      }
      res.status(200).type('application/vnd.api+json').send(entry.body);
      return undefined;
    },
  });
}
