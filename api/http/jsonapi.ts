import { z } from 'zod';

export const JSONAPI = 'application/vnd.api+json';

export interface ResourceObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  relationships?: Record<string, { data: { type: string; id: string } | null }>;
  links?: Record<string, string>;
}

export interface Document {
  data: ResourceObject | ResourceObject[] | null;
  included?: ResourceObject[];
  links?: Record<string, string | null>;
  meta?: Record<string, unknown>;
}

export function relation(type: string, id: string | null): { data: { type: string; id: string } | null } {
  return { data: id === null ? null : { type, id } };
}

/** The zod schema of a JSON:API request document carrying one resource of `type`. */
export function requestDocument<A extends z.ZodType>(type: string, attributes: A) {
  return z.object({ data: z.object({ type: z.literal(type), attributes }) });
}

/** The zod schema of a response document (for the OpenAPI description). */
export function responseDocument<A extends z.ZodType>(type: string, attributes: A) {
  return z.object({
    data: z.object({
      type: z.literal(type), id: z.string(), attributes, relationships: z.record(z.string(), z.unknown()).optional(),
      links: z.record(z.string(), z.string()).optional().describe("the resource's own links, e.g. an applicant's private status link"),
    }),
    included: z.array(z.unknown()).optional(),
    links: z.record(z.string(), z.string().nullable()).optional(),
  });
}

export const ErrorDocumentSchema = z.object({
  errors: z.array(z.object({
    status: z.string(),
    code: z.string(),
    detail: z.string(),
    source: z.object({ pointer: z.string().optional(), parameter: z.string().optional(), header: z.string().optional() }).optional(),
  })),
});
