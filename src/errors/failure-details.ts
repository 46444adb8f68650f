import { isErrorCode, type ErrorCode } from './error-codes.ts';

/**
 * How a refusal travels in a Temporal failure, written and read in one place: its code is the
 * failure's type, the field at fault (if any) the first detail, `{ field }`. Activities,
 * workflows and the lifecycle client all use it. Pure: safe inside the workflow sandbox.
 */

/** The details of a failure that names `field`. */
export function fieldDetails(field: string | undefined): { field: string }[] {
  return field ? [{ field }] : [];
}

/** The code, message and field a failure carries; null when its type is not a code of the error table. */
export function refusalIn(failure: { type?: string | null | undefined; message: string; details?: unknown[] | null | undefined }): { code: ErrorCode; message: string; field?: string } | null {
  if (!isErrorCode(failure.type)) return null;
  const field = (failure.details?.[0] as { field?: unknown } | undefined)?.field;
  return { code: failure.type, message: failure.message, ...(typeof field === 'string' ? { field } : {}) };
}
