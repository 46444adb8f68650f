import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/**
 * How the workflows call their activities, in one place. A database step: a minute per attempt,
 * retried from a second up to a minute apart, for as long as it takes (an outage is waited out).
 */
export const STEP_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** Mail waits out an SMTP outage: unlimited attempts, never on the critical path of the change it tells of. */
export const MAIL_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

/**
 * A short database step run as a local activity, in the worker that holds the workflow task (no
 * trip through the server's task queue): the same minute per attempt and retries as STEP_OPTIONS.
 */
export const LOCAL_STEP_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
