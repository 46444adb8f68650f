import { ServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError } from 'slonik';
import { z } from 'zod';

export interface ErrorObject {
  status: string;
  code: string;
  title?: string;
  detail: string;
  source?: { pointer?: string; parameter?: string; header?: string };
}

/** An error the client caused or must know about; becomes one JSON:API error object. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly errors: ErrorObject[];

  constructor(status: number, code: string, detail: string, source?: ErrorObject['source']) {
    super(detail);
    this.status = status;
    this.code = code;
    this.errors = [{ status: String(status), code, detail, ...(source ? { source } : {}) }];
  }

  static notFound(what = 'resource'): ApiError {
    return new ApiError(404, 'NOT_FOUND', `${what} not found`);
  }

  static forbidden(detail: string): ApiError {
    return new ApiError(403, 'FORBIDDEN', detail);
  }
}

/** zod issues as JSON:API errors, each pointing at the bad field. */
export class ValidationError extends ApiError {
  constructor(issues: readonly z.core.$ZodIssue[], where: 'body' | 'query' | 'path') {
    const status = { body: 422, query: 400, path: 404 }[where];
    super(status, status === 422 ? 'VALIDATION_FAILED' : 'INVALID_PARAMETER', 'the request is invalid');
    this.errors.splice(0, 1, ...issues.map((issue) => toErrorObject(issue, where)));
  }
}

function toErrorObject(issue: z.core.$ZodIssue, where: 'body' | 'query' | 'path'): ErrorObject {
  const path = issue.path.map(String);
  const field = path.join('.') || '(root)';
  const detail = `${field}: ${issue.message}`;
  if (where === 'body') return { status: '422', code: 'VALIDATION_FAILED', detail, source: { pointer: `/${path.join('/')}` } };
  return { status: where === 'path' ? '404' : '400', code: 'INVALID_PARAMETER', detail, source: { parameter: field } };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'ROUTE_NOT_FOUND', `no route for ${req.method} ${req.path}`));
};

/** The only place errors become responses: JSON:API errors, never a stack trace. */
export function errorHandler(log: { error: (obj: object, msg: string) => void }): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = asApiError(err);
    if (!known) log.error({ err, reqId: (req as { id?: unknown }).id }, 'unhandled error');
    const status = known?.status ?? 500;
    if (status === 503) res.set('retry-after', String(RETRY_AFTER_SECONDS));
    const errors = known?.errors ?? [{ status: '500', code: 'INTERNAL_ERROR', detail: 'an internal error occurred; it has been logged' }];
    res.status(status).type('application/vnd.api+json').send(JSON.stringify({ errors }));
  };
}

const RETRY_AFTER_SECONDS = 5;
// Class 08 (connection exception), 57P01-57P03 (shut down by the administrator, crashed, starting up).
const DATABASE_DOWN_SQLSTATE = /^(?:08|57P0[123])/;
// gRPC status codes: DEADLINE_EXCEEDED (4), UNAVAILABLE (14).
const TEMPORAL_DOWN_GRPC_CODES = new Set([4, 14]);

/** An outage of a server the API depends on: the request may succeed later, so 503, not 500. */
function asUnavailable(err: unknown): ApiError | undefined {
  const coded = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; cause?: { code?: unknown } };
  const sqlState = coded.cause?.code ?? coded.code;
  if (err instanceof ConnectionError || err instanceof BackendTerminatedError || err instanceof BackendTerminatedUnexpectedlyError
    || (typeof sqlState === 'string' && DATABASE_DOWN_SQLSTATE.test(sqlState))) {
    return new ApiError(503, 'DATABASE_UNAVAILABLE', 'the database is unavailable; try again shortly');
  }
  const grpcCode = err instanceof ServiceError ? (err.cause as { code?: unknown } | undefined)?.code : undefined;
  if (typeof grpcCode === 'number' && TEMPORAL_DOWN_GRPC_CODES.has(grpcCode)) {
    return new ApiError(503, 'TEMPORAL_UNAVAILABLE', 'the workflow service is unavailable; try again shortly');
  }
  return undefined;
}

function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const unavailable = asUnavailable(err);
  if (unavailable) return unavailable;
  const httpError = err as { status?: unknown; type?: unknown; expose?: unknown };
  if (typeof httpError.status !== 'number' || httpError.status < 400 || httpError.status >= 500) return undefined;
  const status = httpError.status;
  if (status === 413) return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (httpError.type === 'entity.parse.failed') return new ApiError(400, 'MALFORMED_JSON', 'the request body is not valid JSON', { pointer: '' });
  if (status === 415) return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send application/vnd.api+json or application/json');
  return new ApiError(status, 'BAD_REQUEST', 'the request could not be read');
}
