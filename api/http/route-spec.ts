import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import type { TenantKeys } from '../../src/tenants/keyring.ts';
import type { AuthContext } from '../auth/context.ts';

/** A route as declared once: what it takes, who may call it, what it answers, and its handler. */
export type Access = 'public' | 'user' | 'platform';
export type AnyObject = z.ZodObject;

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access = Access> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** The declared request headers, by their lower-case names. */
  headers: Record<string, string | undefined>;
  /** Who is calling, for which tenant, with which roles: always there on `user` routes, never on others. */
  auth: A extends 'user' ? AuthContext : undefined;
  /** The caller's tenant transaction, on `user` routes that declare `callerTransaction`; undefined on others. */
  tx: TenantTransaction | undefined;
  /** The party's keys, read in that transaction's first statement, on routes that declare `callerTransaction: 'with keys'`. */
  keys: TenantKeys | undefined;
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
  /** A POST that changes nothing (GraphQL reads): the caller's next reads need not wait for a change of theirs. */
  readOnly?: true;
  /**
   * On `user` routes: the handler runs in one tenant transaction (`tx`) whose first statement
   * binds the tenant and reads the caller's access, instead of reading the access on a
   * connection of its own before the handler opens its transaction: one round trip and one
   * connection checkout less. For handlers whose work is one transaction of reads. `'with keys'`:
   * the same statement reads the party's keys (`keys`), a round trip less again.
   */
  callerTransaction?: boolean | 'with keys';
  /** Runs before any input is validated, e.g. to check a webhook's signature. */
  guard?: (req: Request) => void | Promise<void>;
  /** Returns a JSON:API reply, or nothing when it wrote the response itself (e.g. a PDF). */
  handler: (input: RouteInput<P, Q, B, A>) => Promise<Reply | undefined>;
}

