import { z } from 'zod';
import type { ZodOpenApiOperationObject } from 'zod-openapi';
import { ErrorDocumentSchema, JSONAPI } from './jsonapi.ts';
import type { RouteSpec } from './route-spec.ts';

/** How a route reads in the OpenAPI document: the same schemas that validate its requests. */
export function documentedOperation(route: RouteSpec): ZodOpenApiOperationObject {
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
      ...(route.query ? { query: deepObjects(route.query) } : {}),
      ...(route.headers ? { header: route.headers } : {}),
    },
    ...(route.body ? { requestBody: { required: !route.body.safeParse(undefined).success, content: { [route.bodyContentType ?? JSONAPI]: { schema: route.body } } } } : {}),
    responses: responses as ZodOpenApiOperationObject['responses'],
  };
}

/** The schema an optional one wraps (a whole optional body, an optional query object); any other as it is. */
export function withoutOptional(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

/** Object-valued query parameters are sent as `filter[name]=…` (qs brackets): OpenAPI's deepObject style. */
function deepObjects(query: z.ZodObject): z.ZodObject {
  const shape = Object.fromEntries(Object.entries(query.shape as Record<string, z.ZodType>).map(([name, schema]) => {
    return [name, withoutOptional(schema) instanceof z.ZodObject ? schema.meta({ param: { style: 'deepObject', explode: true } }) : schema];
  }));
  return z.object(shape);
}
