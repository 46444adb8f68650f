import { ApplicationFailure } from '@temporalio/common';
import { DomainError, type DomainErrorOptions } from './domain-error.ts';
import { isRetryable, type ErrorCode } from './error-codes.ts';
import { fieldDetails, refusalIn } from './failure-details.ts';

/**
 * What an activity throws for an error: a domain error becomes an ApplicationFailure typed
 * with its code, its field in the details, retried or not as the error table says. A
 * Postgres data exception (SQLSTATE class 22) fails the same way on every retry, so it is
 * not retried. Anything else (a lost connection, a timeout) is thrown as it is and retried.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof DomainError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.code,
      nonRetryable: !isRetryable(err.code),
      details: fieldDetails(err.field),
      cause: err,
    });
  }
  const sqlState = sqlStateOf(err);
  if (sqlState?.startsWith('22')) {
    return ApplicationFailure.create({ message: `the database refused the data (SQLSTATE ${sqlState})`, type: 'INVALID_DATA', nonRetryable: true });
  }
  return err;
}

/**
 * The domain error a workflow's refusal stands for, as the lifecycle client receives it (an
 * ApplicationFailure, possibly wrapped, e.g. in WorkflowUpdateFailedError). A failure whose
 * type is not in the error table, and any other error, is returned as it is.
 */
export function fromFailure(
  err: unknown,
  make: (code: ErrorCode, message: string, options: DomainErrorOptions) => DomainError = (code, message, options) => new DomainError(code, message, options),
): unknown {
  const failure = failureIn(err);
  const refusal = failure && refusalIn(failure);
  return refusal ? make(refusal.code, refusal.message, { field: refusal.field, cause: err }) : err;
}

function failureIn(err: unknown): ApplicationFailure | undefined {
  for (let at = err, depth = 0; at instanceof Error && depth < 3; at = at.cause, depth++) {
    if (at instanceof ApplicationFailure) return at;
  }
  return undefined;
}

function sqlStateOf(err: unknown): string | undefined {
  for (let cause = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; cause && depth < 5; cause = cause.cause as typeof cause, depth++) {
    if (typeof cause.code === 'string' && /^[0-9A-Z]{5}$/.test(cause.code)) return cause.code;
  }
  return undefined;
}
