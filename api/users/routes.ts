import { z } from 'zod';
import { withTenant, type TenantContext } from '../../src/db/tenant-context.ts';
import { disableUser, endHeadship, revokeUserRole, type UserStanding } from '../../src/users/user-admin.ts';
import { USER_ROLES } from '../../src/users/users.ts';
import { hasRole, type AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import { text } from '../../src/validation/fields.ts';
import type { RouteRegistry } from '../http/route.ts';

const UserAttributes = z.object({
  active: z.boolean().describe('false once disabled: the user can no longer log in and their tokens are refused'),
  roles: z.array(z.enum(USER_ROLES)).describe('roles in force now'),
  headOf: z.array(z.string()).describe('ids of the committees the user heads now'),
});
const UserDocument = responseDocument('users', UserAttributes);
const Headship = responseDocument('headships', z.object({
  committeeId: z.string(), userId: z.string(), validTo: z.string().describe('when the head term ended'),
}));

/** Why: required, kept in the row and its audit rows. */
const because = (type: string) => requestDocument(type, z.object({ reason: text(3, 500).describe('why, for the record (kept with the change and in the audit log)') }));

const userResource = (standing: UserStanding) => {
  const { id, ...attributes } = standing;
  return { data: { type: 'users' as const, id, attributes } };
};

/** Only a tenant_admin, refused before any lookup so a refusal says nothing of the id. */
function asAdmin(auth: AuthContext, req: { ip?: string | undefined; get(name: string): string | undefined }): TenantContext {
  if (!hasRole(auth, 'tenant_admin')) throw ApiError.forbidden("only the party's tenant_admin manages its users");
  return { tenantId: auth.tenantId, actor: `user:${auth.userId}`, ip: req.ip, userAgent: req.get('user-agent') };
}

/** A party's administrator's controls over its users; the CLI has the same (user:disable, user:revoke-role, committee:end-head). */
export function userRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool'>): void {
  registry.add({
    method: 'post',
    path: '/api/users/:id/disable',
    summary: "Disable a user of the caller's party: no more logins, and their tokens are refused from the next request (tenant_admin)",
    tag: 'users',
    access: 'user',
    params: z.object({ id: z.uuid() }),
    body: because('user-disablements'),
    responses: { 200: { description: 'the user, now inactive (disabling a disabled user changes nothing)', schema: UserDocument } },
    async handler({ params, body, auth, req }) {
      const context = asAdmin(auth, req);
      const standing = await withTenant(deps.pool, context, (tx) => disableUser(tx, params.id, body.data.attributes.reason, auth.userId));
      return { status: 200, body: userResource(standing) };
    },
  });
  registry.add({
    method: 'post',
    path: '/api/users/:id/roles/:role/revoke',
    summary: "End a role of a user of the caller's party, effective from the next request (tenant_admin)",
    tag: 'users',
    access: 'user',
    params: z.object({ id: z.uuid(), role: z.enum(USER_ROLES) }),
    body: because('role-revocations'),
    responses: { 200: { description: 'the user with the roles left in force (404 ROLE_NOT_FOUND when the user does not hold the role)', schema: UserDocument } },
    async handler({ params, body, auth, req }) {
      const context = asAdmin(auth, req);
      const standing = await withTenant(deps.pool, context, (tx) => revokeUserRole(tx, params.id, params.role, body.data.attributes.reason, auth.userId));
      return { status: 200, body: userResource(standing) };
    },
  });
  registry.add({
    method: 'post',
    path: '/api/committees/:id/heads/:userId/end',
    summary: "End a user's running head term of a committee of the caller's party: they can no longer approve or reject for it (tenant_admin)",
    tag: 'users',
    access: 'user',
    params: z.object({ id: z.uuid(), userId: z.uuid() }),
    body: because('headship-endings'),
    responses: { 200: { description: 'the ended term (404 ROLE_NOT_FOUND when the user heads the committee in no running term)', schema: Headship } },
    async handler({ params, body, auth, req }) {
      const context = asAdmin(auth, req);
      const ended = await withTenant(deps.pool, context, (tx) => endHeadship(tx, params.id, params.userId, body.data.attributes.reason));
      return { status: 200, body: { data: { type: 'headships', id: ended.committeeRoleId, attributes: { committeeId: params.id, userId: params.userId, validTo: ended.validTo.toISOString() } } } };
    },
  });
}
