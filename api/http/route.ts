import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import { DomainError } from '../../src/errors/domain-error.ts';
import type { AuthContext } from '../auth/context.ts';
import { ApiError, ValidationError, type ErrorSource } from './errors.ts';
import { ErrorDocumentSchema, JSONAPI } from './jsonapi.ts';

export type Access = 'public' | 'user' | 'platform';
type AnyObject = z.ZodObject;

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access = Access> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** The declared request headers, by their lower-case names. */
  headers: Record<string, string | undefined>;
  /** Who is calling, for which tenant, with which roles: always there on `user` routes, never on others. */
  auth: A extends 'user' ? AuthContext : undefined;
  req: Request;
  res: Response;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteSpec<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends z.ZodType = z.ZodType, A extends Access = Access> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express syntax, e.g. `/api/members/:id`. */
  path: string;
  summary: string;
  tag: string;
  access: A;
  params?: P;
  query?: Q;
  /** Request headers the route reads, by lower-case name: validated, and documented as header parameters. */
  headers?: AnyObject;
  body?: B;
  /** The request body's media type in the OpenAPI description (default JSON:API). */
  bodyContentType?: string;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** Runs before any input is validated, e.g. to check a webhook's signature. */
  guard?: (req: Request) => void;
  /** Returns a JSON:API reply, or nothing when it wrote the response itself (e.g. a PDF). */
  handler: (input: RouteInput<P, Q, B, A>) => Promise<Reply | undefined>;
}

export interface AccessGuards {
  user: RequestHandler;
  platform: RequestHandler;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: 'body' | 'query' | 'path' | 'header'): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(result.error.issues, where);
  return result.data;
}

/** Routes are declared once: the same zod schemas validate requests and describe them in OpenAPI. */
export class RouteRegistry {
  readonly #routes: RouteSpec[] = [];

  add<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access>(spec: RouteSpec<P, Q, B, A>): void {
    this.#routes.push(spec);
  }

  router(guards: AccessGuards): Router {
    const router = Router();
    for (const route of this.#routes) {
      const guard: RequestHandler[] = route.access === 'public' ? [] : [guards[route.access]];
      router[route.method](route.path, ...guard, async (req, res) => {
        route.guard?.(req);
        const auth = res.locals.auth as AuthContext | undefined;
        if ((route.access === 'user') !== (auth !== undefined)) throw new Error(`${route.path}: the caller does not match the route's access`);
        const reply = await route.handler({
          params: parse(route.params, req.params, 'path'),
          query: parse(route.query, req.query, 'query'),
          body: parse(route.body, req.body, 'body'),
          headers: route.headers ? parse(route.headers, req.headers, 'header') as Record<string, string | undefined> : {},
          auth,
          req,
          res,
        }).catch((err: unknown) => {
          throw err instanceof DomainError ? (ApiError.fromDomain(err, (field) => locate(route, field)) ?? err) : err;
        });
        if (!reply) return;
        for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
        res.status(reply.status).type(JSONAPI).send(reply.status === 204 ? undefined : JSON.stringify(reply.body));
      });
    }
    return router;
  }

  paths(): ZodOpenApiPathsObject {
    const paths: ZodOpenApiPathsObject = {};
    for (const route of this.#routes) {
      const openApiPath = route.path.replace(/:(\w+)/g, '{$1}');
      paths[openApiPath] = { ...paths[openApiPath], [route.method]: operation(route) };
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
  const isDocument = route.body instanceof Object && 'shape' in route.body && typeof route.body.shape === 'object' && route.body.shape !== null && 'data' in route.body.shape;
  return { pointer: isDocument ? `/data/attributes/${field}` : `/${field}` };
}

function operation(route: RouteSpec): ZodOpenApiOperationObject {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const contentType = response.contentType ?? JSONAPI;
    responses[status] = response.schema ? { description: response.description, content: { [contentType]: { schema: response.schema } } } : { description: response.description };
  }
  responses.default = { description: 'JSON:API error document', content: { [JSONAPI]: { schema: ErrorDocumentSchema } } };
  return {
    summary: route.summary,
    tags: [route.tag],
    ...(route.access === 'public' ? { security: [] } : route.access === 'platform' ? { security: [{ platformKey: [] }] } : {}),
    requestParams: {
      ...(route.params ? { path: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.headers ? { header: route.headers } : {}),
    },
    ...(route.body ? { requestBody: { content: { [route.bodyContentType ?? JSONAPI]: { schema: route.body } } } } : {}),
    responses: responses as ZodOpenApiOperationObject['responses'],
  };
}
