import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { DomainError } from '../../src/errors/domain-error.ts';
import type { TenantKeys } from '../../src/tenants/keyring.ts';
import type { AuthContext, CallerTransaction } from '../auth/context.ts';
import { ApiError, ValidationError, type ErrorSource } from './errors.ts';
import { JSONAPI } from './jsonapi.ts';
import type { Access, AnyObject, RouteSpec } from './route-spec.ts';
import { documentedOperation, withoutOptional } from './route-document.ts';

export interface AccessGuards {
  user: RequestHandler;
  platform: RequestHandler;
  /** The token alone (`res.locals.claims`), before a `callerTransaction` route's handler. */
  token: RequestHandler;
  callerTransaction: CallerTransaction;
}

export interface RouterHooks {
  /**
   * Called after a signed-in user's request other than GET succeeded, before its answer is sent:
   * the read path remembers how far that user's next reads must see (src/db/read-routing.ts).
   */
  afterUserWrite?: (auth: AuthContext) => Promise<void>;
}

/** A path served, by another method: 405 naming the ones it takes; OPTIONS is answered with them. */
function methodNotAllowed(methods: string[]): RequestHandler {
  const allow = [...methods, 'OPTIONS'].join(', ');
  return (req, res) => {
    res.setHeader('allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    throw new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not served here; use ${methods.join(', ')}`);
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Path parameters with a UUID in canonical (lower-case) form. Postgres compares uuids without
 * regard to case, JavaScript strings do not: a handler comparing `/api/users/<MY-ID>` with the
 * caller's own id (read from the database, lower-case) would otherwise take it for someone else.
 */
function canonicalIds(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, UUID.test(value) ? value.toLowerCase() : value]));
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: 'body' | 'query' | 'path' | 'header'): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(where === 'path' ? canonicalIds(value as Record<string, string>) : value);
  if (!result.success) throw new ValidationError(result.error.issues, where);
  return result.data;
}

/** Routes are declared once: the same zod schemas validate requests and describe them in OpenAPI. */
export class RouteRegistry {
  readonly #routes: RouteSpec[] = [];

  add<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access>(spec: RouteSpec<P, Q, B, A>): void {
    this.#routes.push(spec);
  }

  /** Every declared route, in the order declared. */
  routes(): readonly RouteSpec[] {
    return this.#routes;
  }

  router(guards: AccessGuards, hooks: RouterHooks = {}): Router {
    const router = Router();
    for (const route of this.#routes) {
      const inTransaction = route.access === 'user' && route.callerTransaction !== undefined && route.callerTransaction !== false;
      const guard: RequestHandler[] = route.access === 'public' ? [] : [inTransaction ? guards.token : guards[route.access]];
      router[route.method](route.path, ...guard, async (req, res) => {
        await route.guard?.(req);
        const run = (auth: AuthContext | undefined, tx?: TenantTransaction, keys?: TenantKeys) => {
          if ((route.access === 'user') !== (auth !== undefined)) throw new Error(`${route.path}: the caller does not match the route's access`);
          return route.handler({
            params: parse(route.params, req.params, 'path'),
            query: parse(route.query, req.query, 'query'),
            body: parse(route.body, req.body, 'body'),
            headers: route.headers ? parse(route.headers, req.headers, 'header') as Record<string, string | undefined> : {},
            auth,
            tx,
            keys,
            req,
            res,
          });
        };
        const reply = await (inTransaction
          ? guards.callerTransaction(res.locals.claims as { tenantId: string; userId: string }, req, { keys: route.callerTransaction === 'with keys' }, (tx, auth, keys) => run(auth, tx, keys))
          : run(res.locals.auth as AuthContext | undefined)
        ).catch((err: unknown) => {
          throw err instanceof DomainError ? (ApiError.fromDomain(err, (field) => locate(route, field)) ?? err) : err;
        });
        // A signed-in user's change (routes in a caller transaction only read).
        const writer = res.locals.auth as AuthContext | undefined;
        if (reply && writer && route.method !== 'get' && !route.readOnly && reply.status < 400) await hooks.afterUserWrite?.(writer);
        if (!reply) return;
        for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
        res.status(reply.status).type(JSONAPI).send(reply.status === 204 ? undefined : JSON.stringify(reply.body));
      });
    }
    for (const [path, methods] of this.#methodsByPath()) router.all(path, methodNotAllowed(methods));
    return router;
  }

  /** Each path and the methods it is served by (GET serves HEAD too). */
  #methodsByPath(): Map<string, string[]> {
    const byPath = new Map<string, string[]>();
    for (const route of this.#routes) {
      const methods = byPath.get(route.path) ?? [];
      methods.push(route.method.toUpperCase(), ...(route.method === 'get' ? ['HEAD'] : []));
      byPath.set(route.path, methods);
    }
    return byPath;
  }

  paths(): ZodOpenApiPathsObject {
    const paths: ZodOpenApiPathsObject = {};
    for (const route of this.#routes) {
      const openApiPath = route.path.replace(/:(\w+)/g, '{$1}');
      paths[openApiPath] = { ...paths[openApiPath], [route.method]: documentedOperation(route) };
    }
    return paths;
  }
}

/**
 * Where a field a domain error names sits in this route's request: a query or path
 * parameter, an attribute of a JSON:API body, or a member of a plain JSON body.
 */
function locate(route: RouteSpec, field: string): ErrorSource | undefined {
  if (route.query && field in route.query.shape) return { parameter: field };
  if (route.params && field in route.params.shape) return { parameter: field };
  if (!route.body) return undefined;
  const body = withoutOptional(route.body);
  const isDocument = body instanceof z.ZodObject && 'data' in body.shape;
  return { pointer: isDocument ? `/data/attributes/${field}` : `/${field}` };
}

export type { Access, Reply, RouteInput, RouteSpec } from './route-spec.ts';
