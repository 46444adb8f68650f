import { execute as graphqlExecute, GraphQLError, parse, type ExecutionArgs } from 'graphql';
import { createHandler } from 'graphql-http';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { DomainError } from '../../src/errors/domain-error.ts';
import { httpStatusOf } from '../../src/errors/error-codes.ts';
import type { AuthContext } from '../auth/context.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../http/errors.ts';
import type { RouteRegistry } from '../http/route.ts';
import { createContext } from './context.ts';
import { queryLimitsRule, type QueryLimits } from './limits.ts';
import { graphSchema } from './schema.ts';

/** What one operation may ask for: fields nested at most this deep, and at most this cost (api/graphql/limits.ts). */
export const QUERY_LIMITS: QueryLimits = { maxDepth: 10, maxCost: 5_000 };
/** The parser stops at this many tokens: a document is bounded before it is validated (the body is at most 64 kB anyway). */
const MAX_TOKENS = 5_000;

const GraphQLRequest = z.object({
  query: z.string().min(1).max(20_000).describe('the GraphQL document'),
  variables: z.record(z.string(), z.unknown()).nullable().optional(),
  operationName: z.string().max(200).nullable().optional(),
  extensions: z.record(z.string(), z.unknown()).nullable().optional(),
}).strict();

const GraphQLErrorSchema = z.object({
  message: z.string(),
  locations: z.array(z.object({ line: z.number(), column: z.number() })).optional(),
  path: z.array(z.union([z.string(), z.number()])).optional(),
  extensions: z.object({ code: z.string().optional() }).catchall(z.unknown()).optional()
    .describe('code: FORBIDDEN, INVALID_PARAMETER, QUERY_TOO_DEEP, QUERY_TOO_COSTLY, GRAPHQL_VALIDATION_FAILED or INTERNAL_ERROR'),
});
const GraphQLResponse = z.object({ data: z.record(z.string(), z.unknown()).nullable().optional(), errors: z.array(GraphQLErrorSchema).optional() });

// A type, not an interface: graphql-http wants a context that is a record.
type HandlerContext = { auth: AuthContext };

/** An error for the client: refusals keep their message and code; anything else is logged and told as an internal error. */
function clientError(log: ApiDeps['log']) {
  return (err: Readonly<GraphQLError | Error>): GraphQLError => {
    if (!(err instanceof GraphQLError)) return new GraphQLError(err.message, { extensions: { code: 'BAD_REQUEST' } });
    const original = err.originalError;
    if (!original || original instanceof GraphQLError) {
      return err.extensions.code ? err : new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, path: err.path, extensions: { ...err.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } });
    }
    if (original instanceof DomainError && httpStatusOf(original.code) < 500) {
      return new GraphQLError(original.message, { path: err.path, extensions: { code: original.code } });
    }
    log.error({ err: original, path: err.path }, 'graphql resolver failed');
    return new GraphQLError('an internal error occurred; it has been logged', { path: err.path, extensions: { code: 'INTERNAL_ERROR' } });
  };
}

/**
 * POST /api/graphql: the read graph (api/graphql/schema.ts) for staff and heads, through
 * graphql-http's server handler. The caller is authenticated like any user route; the whole
 * operation runs in ONE transaction bound to the caller's party (row-level security), with
 * per-request DataLoaders, so no answer mixes parties and no list costs a query per item.
 * Requests that are well formed are answered 200 with `application/json` (GraphQL over HTTP's
 * legacy media type), errors in the body; malformed ones get JSON:API errors like every route.
 */
export function graphqlRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'keyring' | 'log'>): void {
  const handle = createHandler<unknown, HandlerContext, HandlerContext>({
    schema: graphSchema,
    parse: (source, options) => parse(source, { ...options, maxTokens: MAX_TOKENS }),
    context: (req) => ({ auth: req.context.auth }),
    validationRules: (_req, _args, specified) => [...specified, queryLimitsRule(QUERY_LIMITS)],
    // One transaction per operation, bound to the caller's party; the context the resolvers see carries it.
    execute: (args: ExecutionArgs) => {
      const { auth } = args.contextValue as HandlerContext;
      return withTenant(deps.pool, { tenantId: auth.tenantId, actor: `user:${auth.userId}` },
        (tx) => Promise.resolve(graphqlExecute({ ...args, contextValue: createContext(tx, auth, deps.keyring) })));
    },
    formatError: clientError(deps.log),
  });

  registry.add({
    method: 'post',
    path: '/api/graphql',
    summary: 'GraphQL reads over members, committees, geography, statistics and invoices (staff, and heads within their areas; the schema is served by introspection)',
    tag: 'graphql',
    access: 'user',
    body: GraphQLRequest,
    bodyContentType: 'application/json',
    readOnly: true,
    responses: {
      200: { description: 'the result: data, and errors (a refused field is null with an error naming its code); also for a query that does not validate or exceeds the depth or cost limit (no data then)',
        schema: GraphQLResponse, contentType: 'application/json' },
      401: { description: 'no valid bearer token' },
      422: { description: 'the body is not a GraphQL request (query, variables, operationName); source.pointer names the field' },
    },
    async handler({ body, auth, req, res }) {
      const [answer, init] = await handle({
        method: 'POST',
        url: req.originalUrl,
        // The body was read and checked as JSON already; the result is always application/json.
        headers: { get: (name: string) => (name.toLowerCase() === 'content-type' || name.toLowerCase() === 'accept' ? 'application/json' : req.get(name) ?? null) },
        body,
        raw: req,
        context: { auth },
      });
      if (init.status !== 200) throw new ApiError('BAD_REQUEST', typeof answer === 'string' ? answer.slice(0, 500) : 'not a GraphQL request');
      res.status(200).type('application/json').send(answer);
      return undefined;
    },
  });
}
