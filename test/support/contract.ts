import type { ApiDeps } from '../../api/deps.ts';
import { features } from '../../api/features.ts';
import { ErrorDocumentSchema, JSONAPI } from '../../api/http/jsonapi.ts';
import { RouteRegistry, type RouteSpec } from '../../api/http/route.ts';

let documented: RouteRegistry | undefined;

/**
 * The routes as this code declares them, for answers from an API in another process (the
 * fault suite's): registering reads no dependency, so none is given.
 */
export function documentedRegistry(): RouteRegistry {
  if (!documented) {
    documented = new RouteRegistry();
    for (const register of features) register(documented, {} as ApiDeps);
  }
  return documented;
}

/** A body as text, parsed as JSON when it is JSON. */
export const parsedBody = (text: string): unknown => {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
};

/** The path as the server routes it: dot segments resolved (as fetch sends it), a trailing slash ignored. */
function servedPath(url: string): string {
  let path: string;
  try {
    path = new URL(url, 'http://x').pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? '';
  }
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** The declared route a request reached, by method and path (GET routes serve HEAD too). */
function routeOf(registry: RouteRegistry, method: string, url: string): RouteSpec | undefined {
  const path = servedPath(url);
  const wanted = method === 'HEAD' ? 'get' : method.toLowerCase();
  return registry.routes().find((route) =>
    route.method === wanted && new RegExp(`^${route.path.replace(/:\w+/g, '[^/]+')}$`).test(path));
}

/**
 * What is wrong with an answer, held to what the OpenAPI document (made from the same
 * registry) says of it: a status the route does not declare, a body its schema refuses, an
 * error that is not a JSON:API error document. Empty when the answer keeps the contract, or
 * the path is not a documented route (health, metrics, the docs themselves).
 */
export function contractProblems(registry: RouteRegistry, request: { method: string; url: string }, answer: { status: number; contentType: string; body: unknown }): string[] {
  const route = routeOf(registry, request.method, request.url);
  if (!route || request.method === 'HEAD') return [];
  const where = `${request.method} ${route.path} answered ${answer.status}`;
  const declared = route.responses[answer.status];
  if (!declared) {
    if (answer.status < 400) return [`${where}, a status its document does not declare`];
    const parsed = ErrorDocumentSchema.safeParse(answer.body);
    return parsed.success && answer.contentType.startsWith(JSONAPI) ? [] : [`${where} with something other than a JSON:API error document`];
  }
  // 204 and 304 carry no body, so no media type either.
  if ((answer.status === 204 || answer.status === 304) && !declared.schema) return answer.body === null || answer.body === '' ? [] : [`${where} with a body`];
  const contentType = declared.contentType ?? JSONAPI;
  if (!answer.contentType.startsWith(contentType)) return [`${where} as ${answer.contentType}, not the documented ${contentType}`];
  if (!declared.schema || contentType !== JSONAPI && !contentType.endsWith('+json')) return [];
  const parsed = declared.schema.safeParse(answer.body);
  return parsed.success ? [] : [`${where} with a body its documented schema refuses: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`];
}
