/**
 * Every patch id a workflow of the product calls `patched()` (or `deprecatePatch()`) with, in
 * one place: the workflows import their ids from here, and `npm run cli -- workflows:versions`
 * counts the running workflows that have not taken each one (docs/workflow-rollout.md).
 * An id is a string recorded in histories: never change one's value, never reuse one.
 */

/** Lifecycles that may end refused because the applicant's phone or email was taken. */
export const CONTACT_TAKEN_REFUSAL = 'contact-taken-refusal';

/**
 * Lifecycles that record a decision sent as a signal (an operator's, from the Temporal UI or
 * CLI) as `operator:<name>`, never as the user its `by` may name. Lifecycles that took a signal
 * before recorded `by` as typed, and replay so.
 */
export const OPERATOR_SIGNAL_ACTORS = 'operator-signal-actors';

/**
 * Lifecycles that email the heads of the member's committee when the application arrives (with
 * a link to decide it), not only when it has waited for the reminder. Lifecycles started before
 * sent no such email, and replay so.
 */
export const HEADS_TOLD_ON_ARRIVAL = 'heads-told-on-arrival';

/**
 * Lifecycles whose memo's stage (the memo names party, ward and stage, set when the lifecycle
 * starts) is upserted at every stage. Lifecycles started before keep their memo as it was.
 */
export const MEMO_FOLLOWS_STAGE = 'memo-follows-stage';

/**
 * Lifecycles started with their application already recorded by the registration request
 * (input `recorded`, src/members/lifecycle-starts.ts): they run no register step. Lifecycles
 * started before were started by the register Update, which recorded the application, and
 * replay so.
 */
export const REGISTERED_BY_REQUEST = 'registered-by-request';

/**
 * Lifecycles that read their settings in a local activity (in the worker that holds the workflow
 * task), and merge the steps no external call separates into one activity and one transaction
 * each: the approval with its invoice (the approve Update answers with the invoice), the payment
 * with the activation. Lifecycles started before ran them as separate activities, and replay so.
 */
export const LIFECYCLE_MERGED_STEPS = 'lifecycle-merged-steps';

/**
 * Lifecycles that render their ID card and send their email on the card task queue
 * (CARDS_TASK_QUEUE, src/temporal/task-queue.ts), which a worker process of its own may serve
 * (WORKER_TASK_QUEUES), so that the CPU they take never delays a workflow task. Lifecycles
 * started before ran them on the membership task queue, and replay so.
 */
export const CARDS_OWN_QUEUE = 'cards-own-queue';

/**
 * Renewals that issue their card and send their emails on the card task queue, as lifecycles do
 * since CARDS_OWN_QUEUE. Renewals started before ran them on the membership task queue, and replay so.
 */
export const RENEWAL_CARDS_OWN_QUEUE = 'renewal-cards-own-queue';

/**
 * Status changes that issue their card (a lifted suspension) and send their emails (the
 * resignation link included) on the card task queue. Those started before ran them on the
 * membership task queue, and replay so.
 */
export const STATUS_CHANGE_CARDS_OWN_QUEUE = 'status-change-cards-own-queue';

/**
 * Transfers that issue their card and send their notices and emails on the card task queue, and
 * transfer links sent from there. Those started before ran them on the membership task queue, and
 * replay so.
 */
export const TRANSFER_CARDS_OWN_QUEUE = 'transfer-cards-own-queue';
export const TRANSFER_LINK_CARDS_OWN_QUEUE = 'transfer-link-cards-own-queue';

export interface KnownPatch {
  id: string;
  /** The workflow type whose code calls patched() with it. */
  workflowType: string;
  /** What a workflow that took the patch does differently. */
  summary: string;
}

export const PATCHES: readonly KnownPatch[] = [
  { id: CONTACT_TAKEN_REFUSAL, workflowType: 'memberLifecycle', summary: 'an application whose phone or email is taken ends RegistrationRefused, and the contact holder is told' },
  { id: OPERATOR_SIGNAL_ACTORS, workflowType: 'memberLifecycle', summary: 'a decision sent as a signal is recorded as operator:<name>' },
  { id: MEMO_FOLLOWS_STAGE, workflowType: 'memberLifecycle', summary: "the memo's stage is upserted at every stage" },
  { id: REGISTERED_BY_REQUEST, workflowType: 'memberLifecycle', summary: 'the application is recorded by the registration request before the lifecycle starts' },
  { id: LIFECYCLE_MERGED_STEPS, workflowType: 'memberLifecycle', summary: 'settings read in a local activity; approval with invoice, and payment with activation, one activity and one transaction each' },
  { id: CARDS_OWN_QUEUE, workflowType: 'memberLifecycle', summary: 'the ID card and every email are scheduled on the membership-cards task queue' },
  { id: RENEWAL_CARDS_OWN_QUEUE, workflowType: 'memberRenewal', summary: "the renewal's card and emails are scheduled on the membership-cards task queue" },
  { id: STATUS_CHANGE_CARDS_OWN_QUEUE, workflowType: 'memberStatusChange', summary: "the status change's card and emails are scheduled on the membership-cards task queue" },
  { id: TRANSFER_CARDS_OWN_QUEUE, workflowType: 'memberTransfer', summary: "the transfer's card, notices and emails are scheduled on the membership-cards task queue" },
  { id: TRANSFER_LINK_CARDS_OWN_QUEUE, workflowType: 'transferLink', summary: 'the transfer link is emailed from the membership-cards task queue' },
  { id: HEADS_TOLD_ON_ARRIVAL, workflowType: 'memberLifecycle', summary: "the committee's heads are emailed when an application arrives in their area" },
];

export const PATCH_IDS: readonly string[] = PATCHES.map((patch) => patch.id);
