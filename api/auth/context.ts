import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { DatabasePool } from 'slonik';
import type { Request } from 'express';
import { readCallerAccess, withCaller } from '../../src/auth/caller-access.ts';
import type { ReadRouting } from '../../src/db/read-routing.ts';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import type { Keyring, TenantKeys } from '../../src/tenants/keyring.ts';
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

async function verifiedClaims(req: Request, secret: Uint8Array) {
  const token = bearer(req.headers.authorization);
  const claims = token ? await verifyToken(secret, token) : null;
  if (!claims) throw new ApiError('UNAUTHENTICATED', 'a valid bearer token is required');
  return claims;
}

const GONE = 'the user no longer exists or is disabled';

export function requireUser(pool: DatabasePool, secret: Uint8Array): RequestHandler {
  return async (req, res, next) => {
    const claims = await verifiedClaims(req, secret);
    const caller = await readCallerAccess(pool, claims.tenantId, claims.userId);
    const auth: AuthContext | null = caller ? { ...claims, roles: caller.roles, headships: caller.headships } : null;
    if (!auth) throw new ApiError('UNAUTHENTICATED', GONE);
    res.locals.auth = auth;
    next();
  };
}

/**
 * The bearer token alone, for routes that read the caller's access in their own transaction
 * (callerTransaction): the verified claims go to `res.locals.claims`.
 */
export function requireToken(secret: Uint8Array): RequestHandler {
  return async (req, res, next) => {
    res.locals.claims = await verifiedClaims(req, secret);
    next();
  };
}

/** Runs `work` for the caller in a tenant transaction, or rolls back; with `keys`, the party's keys are read in its first statement too. */
export type CallerTransaction = <T>(claims: { tenantId: string; userId: string }, req: Request, options: { keys: boolean },
  work: (tx: TenantTransaction, auth: AuthContext, keys: TenantKeys | undefined) => Promise<T>) => Promise<T>;

/**
 * The caller's tenant transaction, its first statement binding the tenant and the audit
 * context and reading the caller's roles and headships (src/auth/caller-access.ts withCaller),
 * and the party's keys when asked. A user who no longer exists or is disabled is refused as
 * requireUser refuses them, and nothing of theirs runs.
 */
export function callerTransaction(pools: { pool: DatabasePool; reads?: ReadRouting | undefined }, keyring: Keyring): CallerTransaction {
  return async (claims, req, options, work) => {
    const run = (pool: DatabasePool) => withCaller(pool, {
      tenantId: claims.tenantId, userId: claims.userId, actor: `user:${claims.userId}`, ip: req.ip, userAgent: req.get('user-agent'), keyring: options.keys ? keyring : undefined,
    }, (tx, caller, keys) => {
      if (!caller) throw new ApiError('UNAUTHENTICATED', GONE);
      return work(tx, { ...claims, roles: caller.roles, headships: caller.headships }, keys);
    });
    // Its handlers only read (search, statistics): on the replica when there is one and it has the caller's own changes.
    return pools.reads ? (await pools.reads.onPool(`${claims.tenantId}:${claims.userId}`, run)).value : run(pools.pool);
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
