import { slug, text } from '../../src/validation/fields.ts';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { findTenantBySlug } from '../../src/tenants/tenants.ts';
import { verifyNobody, verifyUserPassword } from '../../src/users/users.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { issueToken } from '../../src/auth/tokens.ts';

const Login = requestDocument('sessions', z.object({
  tenant: slug.describe('the party slug'),
  email: text(3, 320),
  password: z.string().min(1).max(200).refine((p) => !p.includes('\u0000'), 'must not contain NUL'),
}));
const Session = responseDocument('sessions', z.object({ token: z.string(), expiresAt: z.string() }));

export function authRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'tokenSecret' | 'clock'>): void {
  registry.add({
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in as a user of a party; returns a short-lived bearer token',
    tag: 'auth',
    access: 'public',
    body: Login,
    responses: { 201: { description: 'a session token', schema: Session } },
    async handler({ body, req }) {
      const { tenant: slug, email, password } = body.data.attributes;
      const tenant = await findTenantBySlug(deps.pool, slug);
      const userId = tenant
        ? await withTenant(deps.pool, { tenantId: tenant.id, actor: 'login', ip: req.ip, userAgent: req.get('user-agent') }, (tx) => verifyUserPassword(tx, email, password))
        : await verifyNobody(password);
      if (!tenant || !userId) throw new ApiError('INVALID_CREDENTIALS', 'the party, email or password is wrong');
      const { token, expiresAt } = await issueToken(deps.tokenSecret, { userId, tenantId: tenant.id }, deps.clock());
      return { status: 201, body: { data: { type: 'sessions', id: userId, attributes: { token, expiresAt: expiresAt.toISOString() } } } };
    },
  });
}
