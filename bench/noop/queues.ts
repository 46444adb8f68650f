/** The no-op lifecycle's task queues: its workflow and steps, and its card and mail (as the product's membership and membership-cards). */
export const NOOP_QUEUE = 'bench-noop-lifecycle';
export const NOOP_CARDS_QUEUE = 'bench-noop-cards';
