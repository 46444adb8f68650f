/** The slice of JSON Schema the API's zod schemas produce. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

export interface Parameter { name: string; required: boolean; schema: JsonSchema }

/** One documented operation, as /openapi.json describes it. */
export interface Operation {
  /** e.g. `GET /api/members/{id}` */
  key: string;
  method: string;
  path: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body: { contentType: string; schema: JsonSchema } | undefined;
  access: 'public' | 'user' | 'platform';
}

interface OpenApiOperation {
  parameters?: { name: string; in: string; required?: boolean; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  security?: Record<string, unknown>[];
}

/** Every operation the running API documents: a new endpoint is covered without editing the tests. */
export async function documentedOperations(baseUrl: string): Promise<Operation[]> {
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, OpenApiOperation>> };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const params = (where: string) => (operation.parameters ?? []).filter((p) => p.in === where).map((p) => ({ name: p.name, required: p.required ?? false, schema: p.schema }));
      const [contentType, media] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
      const security = operation.security;
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params('path'),
        queryParams: params('query'),
        body: contentType && media ? { contentType, schema: media.schema } : undefined,
        access: security?.length === 0 ? 'public' : security?.some((s) => 'platformKey' in s) ? 'platform' : 'user',
      });
    }
  }
  return operations;
}

/** The path with each `{name}` replaced by an already percent-encoded value. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? `{${name}}`);
}
