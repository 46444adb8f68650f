import { z } from 'zod';
import { createTenant, findTenantBySlug, listTenants, NewTenantSchema, TenantSchema, TenantSummarySchema } from '../../src/tenants/tenants.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { slug } from '../../src/validation/fields.ts';

const CreateTenant = requestDocument('tenants', NewTenantSchema);
const TenantAttributes = TenantSchema.omit({ id: true });
const TenantDocument = responseDocument('tenants', TenantAttributes);
const TenantSummary = TenantSummarySchema;
const TenantList = z.object({
  data: z.array(z.object({ type: z.literal('tenants'), id: z.string(), attributes: TenantSummary.omit({ id: true }) })),
});

/** The platform operator's routes (PLATFORM_ADMIN_KEY): parties are created here, not by their own users. */
export function platformRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'keyring'>): void {
  registry.add({
    method: 'post',
    path: '/api/platform/tenants',
    summary: 'Create a party (tenant) with its own keys and member-number sequence',
    tag: 'platform',
    access: 'platform',
    body: CreateTenant,
    responses: {
      201: { description: 'the new party', schema: TenantDocument },
      409: { description: 'the slug is taken (SLUG_TAKEN)' },
      422: { description: 'a field is invalid; source.pointer names it' },
    },
    async handler({ body }) {
      const tenant = await createTenant(deps.pool, deps.keyring, body.data.attributes, 'platform-admin');
      const { id, ...attributes } = tenant;
      return { status: 201, body: { data: { type: 'tenants', id, attributes } } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/platform/tenants',
    summary: 'List every party by slug and name',
    tag: 'platform',
    access: 'platform',
    responses: { 200: { description: 'every party, ordered by slug', schema: TenantList } },
    async handler() {
      const rows = await listTenants(deps.pool);
      return { status: 200, body: { data: rows.map(({ id, ...attributes }) => ({ type: 'tenants', id, attributes })) } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/platform/tenants/:slug',
    summary: 'Read one party with its settings: fees, approval timers, card validity, time zone, terms (length, renewal fee and notice, grace, reinstatement window), calendar and dues split',
    tag: 'platform',
    access: 'platform',
    params: z.object({ slug }),
    responses: {
      200: { description: 'the party and its settings (changed with the tenant:settings command)', schema: TenantDocument },
      404: { description: 'no such party' },
    },
    async handler({ params }) {
      const tenant = await findTenantBySlug(deps.pool, params.slug);
      if (!tenant) throw new ApiError('TENANT_NOT_FOUND', 'party not found');
      const { id, ...attributes } = tenant;
      return { status: 200, body: { data: { type: 'tenants', id, attributes } } };
    },
  });
}
