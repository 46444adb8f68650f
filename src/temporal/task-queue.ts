/** The one task queue every member lifecycle runs on. */
export const MEMBERSHIP_TASK_QUEUE = 'membership';
