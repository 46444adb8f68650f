import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError } from 'slonik';
import { z } from 'zod';
import { DomainError } from '../../src/errors/domain-error.ts';
import { httpStatusOf, type ErrorCode } from '../../src/errors/error-codes.ts';

export interface ErrorObject {
  status: string;
  code: string;
  title?: string;
  detail: string;
  source?: { pointer?: string; parameter?: string; header?: string };
}

export type ErrorSource = NonNullable<ErrorObject['source']>;

/**
 * An error as the client receives it: one or more JSON:API error objects. Its status is the
 * error table's for its code (src/errors/error-codes.ts), so a code answers one way everywhere.
 */
export class ApiError extends DomainError {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly errors: ErrorObject[];

  constructor(code: ErrorCode, detail: string, source?: ErrorSource) {
    super(code, detail);
    this.status = httpStatusOf(code);
    this.errors = [{ status: String(this.status), code, detail, ...(source ? { source } : {}) }];
  }

  static notFound(what = 'resource'): ApiError {
    return new ApiError('NOT_FOUND', `${what} not found`);
  }

  static forbidden(detail: string): ApiError {
    return new ApiError('FORBIDDEN', detail);
  }

  /** A domain error as the client sees it, its field located in the request; none for a server fault. */
  static fromDomain(err: DomainError, locate: (field: string) => ErrorSource | undefined = () => undefined): ApiError | undefined {
    if (err instanceof ApiError) return err;
    // An outage the domain names (e.g. a lifecycle not started yet) is told as one; any other 5xx is an internal error.
    if (httpStatusOf(err.code) >= 500 && httpStatusOf(err.code) !== 503) return undefined;
    return new ApiError(err.code, err.message, err.field === undefined ? undefined : locate(err.field));
  }
}

type Where = 'body' | 'query' | 'path' | 'header';

/** zod issues as JSON:API errors, each pointing at the bad field. A bad path parameter names nothing that exists: 404. */
export class ValidationError extends ApiError {
  constructor(issues: readonly z.core.$ZodIssue[], where: Where) {
    super(CODE_OF[where], 'the request is invalid');
    this.errors.splice(0, 1, ...issues.map((issue) => toErrorObject(issue, where)));
  }
}

const CODE_OF = { body: 'VALIDATION_FAILED', query: 'INVALID_PARAMETER', header: 'INVALID_PARAMETER', path: 'NOT_FOUND' } as const satisfies Record<Where, ErrorCode>;

function toErrorObject(issue: z.core.$ZodIssue, where: Where): ErrorObject {
  const path = issue.path.map(String);
  const field = path.join('.') || '(root)';
  const code = CODE_OF[where];
  const base = { status: String(httpStatusOf(code)), code, detail: `${field}: ${issue.message}` };
  const source = where === 'body' ? { pointer: `/${path.join('/')}` } : where === 'header' ? { header: field } : { parameter: field };
  return { ...base, source };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError('ROUTE_NOT_FOUND', `no route for ${req.method} ${req.path}`));
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
const FAILED_PRECONDITION = 9;
/** The server's words when it refuses an Update because the workflow task failed and is being retried. */
const UPDATE_WHILE_TASK_FAILED = /update due to Workflow Task in failed state/;

/** An outage of a server the API depends on: the request may succeed later, so 503, not 500. */
function asUnavailable(err: unknown): ApiError | undefined {
  const coded = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; cause?: { code?: unknown } };
  const sqlState = coded.cause?.code ?? coded.code;
  if (err instanceof ConnectionError || err instanceof BackendTerminatedError || err instanceof BackendTerminatedUnexpectedlyError
    || (typeof sqlState === 'string' && DATABASE_DOWN_SQLSTATE.test(sqlState))) {
    return new ApiError('DATABASE_UNAVAILABLE', 'the database is unavailable; try again shortly');
  }
  const grpc = err instanceof ServiceError ? (err.cause as { code?: unknown; details?: unknown } | undefined) : undefined;
  const grpcCode = grpc?.code;
  // An Update (a payment, a decision) that no worker could take: its call ran out of time (the
  // worker died, or none runs), or the server refused it while the workflow's last task, failed
  // with its worker, waits to be retried. Nothing happened, and the request may be sent again (a
  // payment is recorded once per reference; a decision taken meanwhile answers as taken).
  const updateNotTaken = err instanceof WorkflowUpdateRPCTimeoutOrCancelledError
    || (grpcCode === FAILED_PRECONDITION && typeof grpc?.details === 'string' && UPDATE_WHILE_TASK_FAILED.test(grpc.details));
  if ((typeof grpcCode === 'number' && TEMPORAL_DOWN_GRPC_CODES.has(grpcCode)) || updateNotTaken) {
    return new ApiError('TEMPORAL_UNAVAILABLE', 'the workflow service is unavailable; try again shortly');
  }
  return undefined;
}

function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof DomainError) return ApiError.fromDomain(err);
  const unavailable = asUnavailable(err);
  if (unavailable) return unavailable;
  const httpError = err as { status?: unknown; type?: unknown; expose?: unknown };
  if (typeof httpError.status !== 'number' || httpError.status < 400 || httpError.status >= 500) return undefined;
  const status = httpError.status;
  if (status === 413) return new ApiError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (httpError.type === 'entity.parse.failed') return new ApiError('MALFORMED_JSON', 'the request body is not valid JSON', { pointer: '' });
  if (status === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send application/vnd.api+json or application/json');
  return new ApiError('BAD_REQUEST', 'the request could not be read');
}
