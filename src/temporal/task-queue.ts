/** The task queue every member lifecycle (and every other workflow of the product) runs on, with its database steps. */
export const MEMBERSHIP_TASK_QUEUE = 'membership';

/**
 * The task queue of the CPU-heavy activities: rendering ID cards and sending email. Lifecycles
 * since the cards-own-queue patch, and renewals, status changes, transfers and transfer links
 * since theirs (src/temporal/workflow-patches.ts), schedule them here, so a
 * worker process that serves only it (WORKER_TASK_QUEUES) keeps them off the event loop that
 * runs workflow tasks.
 */
export const CARDS_TASK_QUEUE = 'membership-cards';

/** Every task queue a worker process may serve (WORKER_TASK_QUEUES); one process serves all by default. */
export const TASK_QUEUES = [MEMBERSHIP_TASK_QUEUE, CARDS_TASK_QUEUE] as const;
export type TaskQueueName = (typeof TASK_QUEUES)[number];
