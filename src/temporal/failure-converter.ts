import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (DataConverter.failureConverterPath) by the worker and built into the workflow
 * bundle: a failure's message and stack trace travel as an encoded payload, which the
 * encryption codec seals, instead of in Temporal's plaintext `message` field.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
