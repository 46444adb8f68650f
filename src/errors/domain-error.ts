import { isRetryable, type ErrorCode } from './error-codes.ts';

export interface DomainErrorOptions {
  /** The input field at fault, in the caller's vocabulary (e.g. `phone`, `amount`). */
  field?: string | undefined;
  cause?: unknown;
}

/**
 * The one base of the product's errors: a stable `code` (see error-codes.ts for its HTTP
 * status and whether it is retried) and, for bad input, the `field` at fault. Activities turn
 * it into a Temporal failure, the lifecycle client turns that back, and the API answers it as
 * a JSON:API error, all through the same table.
 */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }

  /** Whether trying again may succeed, as the error table says (MailDeliveryError's callers read it). */
  get retryable(): boolean {
    return isRetryable(this.code);
  }
}
