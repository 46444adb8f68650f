import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { DatabasePool } from 'slonik';
import { readCallerAccess } from '../../src/auth/caller-access.ts';
import type { UserRole } from '../../src/users/users.ts';
import { ApiError } from '../http/errors.ts';
import { verifyToken } from '../../src/auth/tokens.ts';

/** Who is calling. Roles and headships are read from the database on every request. */
export interface AuthContext {
  tenantId: string;
  userId: string;
  roles: UserRole[];
  /** Committees the user heads now, with the geography path each covers. */
  headships: { committeeId: string; geographyPath: string }[];
}

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearer(header: string | undefined): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header ?? '');
  return match?.[1] ?? null;
}

export function requireUser(pool: DatabasePool, secret: Uint8Array): RequestHandler {
  return async (req, res, next) => {
    const token = bearer(req.headers.authorization);
    const claims = token ? await verifyToken(secret, token) : null;
    if (!claims) throw new ApiError('UNAUTHENTICATED', 'a valid bearer token is required');
    const caller = await readCallerAccess(pool, claims.tenantId, claims.userId);
    const auth: AuthContext | null = caller ? { ...claims, roles: caller.roles, headships: caller.headships } : null;
    if (!auth) throw new ApiError('UNAUTHENTICATED', 'the user no longer exists or is disabled');
    res.locals.auth = auth;
    next();
  };
}

/** The platform operator's key (PLATFORM_ADMIN_KEY), compared in constant time; no key configured means no access. */
export function requirePlatformAdmin(adminKey: string | undefined): RequestHandler {
  const expected = adminKey ? createHash('sha256').update(adminKey).digest() : null;
  return (req, _res, next) => {
    const given = bearer(req.headers.authorization);
    const ok = expected && given && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
    if (!ok) throw new ApiError('UNAUTHENTICATED', 'the platform administrator key is required');
    next();
  };
}

export function hasRole(auth: AuthContext, ...roles: UserRole[]): boolean {
  return auth.roles.some((role) => roles.includes(role));
}

/** The user's headships whose committee's area is the path or one of its ancestors. */
export function coveringHeadships(auth: AuthContext, geographyPath: string): AuthContext['headships'] {
  return auth.headships.filter((h) => geographyPath === h.geographyPath || geographyPath.startsWith(`${h.geographyPath}.`));
}

/** True when the user heads a committee whose area is the path or one of its ancestors. */
export function headsAreaOf(auth: AuthContext, geographyPath: string): boolean {
  return coveringHeadships(auth, geographyPath).length > 0;
}
