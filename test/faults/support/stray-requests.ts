import fc from 'fast-check';
import type { FuzzContext, FuzzRequest } from './fuzz-requests.ts';
import { hostileJson, hostileString, percentEncode, rawEncoded } from './hostile-values.ts';
import { fillPath, type Operation } from './openapi-operations.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
/** Served outside the documented API: probes, metrics, the OpenAPI document and its UI. */
const INFRASTRUCTURE = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs/'];

const strayBody = fc.oneof(fc.constant(undefined), hostileJson.map((v) => JSON.stringify(v) ?? 'null'), hostileString);

function sending(method: string, path: string, body: string | undefined, token: string | undefined): FuzzRequest {
  const hasBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(hasBody ? { 'content-type': 'application/vnd.api+json' } : {}) };
  return { method, path, headers, body: hasBody ? body : undefined };
}

/** Documented paths asked with every method they do not document, ids filled with real ones. */
export function wrongMethods(operations: Operation[], ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const byPath = new Map<string, Set<string>>();
  for (const op of operations) byPath.set(op.path, (byPath.get(op.path) ?? new Set()).add(op.method));
  const cases = [...byPath].flatMap(([path, documented]) => METHODS.filter((m) => !documented.has(m) && m !== 'OPTIONS').map((method) => ({ path, method })));
  return fc.record({
    target: fc.constantFrom(...cases),
    id: fc.constantFrom(...ctx.plausible.ids),
    slug: fc.constantFrom(...(ctx.plausible.byName.slug ?? ['x'])),
    body: strayBody,
    token: fc.option(fc.constantFrom(...ctx.tokens), { nil: undefined }),
  }).map(({ target, id, slug, body, token }) => sending(target.method, fillPath(target.path, { id, nodeId: id, slug, provider: 'esewa' }), body, token));
}

/** Paths nothing serves, traversal and encoding tricks, and the infrastructure endpoints under any method. */
export function strayPaths(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const segment = fc.oneof(hostileString.map(percentEncode), rawEncoded, fc.constantFrom('api', 'members', 'platform', 'tenants', 'approve', '..', ''));
  const path = fc.oneof(
    fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
    fc.constantFrom(...INFRASTRUCTURE),
    fc.constantFrom('/API/MEMBERS', '/api/members/', '//api/members', '/api/members/%2e%2e/platform/tenants', '/api/members;jsessionid=1',
      '/.env', '/api/platform/tenants/..%2F..%2Fmembers', `/api/${'a/'.repeat(1_500)}`, '/api/members?filter[name]=ab#frag', '/%E0%A4%A/api'),
  ).map((p) => p.slice(0, 6_000));
  return fc.record({
    method: fc.constantFrom(...METHODS),
    path,
    body: strayBody,
    token: fc.option(fc.constantFrom(...ctx.tokens, ctx.platformKey), { nil: undefined }),
  }).map(({ method, path: p, body, token }) => sending(method, p, body, token));
}
