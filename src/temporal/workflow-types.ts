import { MEMBER_LIFECYCLE_WORKFLOW } from '../members/lifecycle-contract.ts';
import { STATUS_CHANGE_WORKFLOW } from '../members/status-change-contract.ts';
import { PAYMENT_VERIFICATION_WORKFLOW } from '../payments/payment-verification-contract.ts';
import { MEMBER_RENEWAL_WORKFLOW, RENEWAL_RUN_WORKFLOW } from '../renewals/renewal-contract.ts';
import { PAYMENT_RECONCILIATION_WORKFLOW } from '../payments/reconciliation-run.ts';
import { MEMBER_TRANSFER_WORKFLOW, TRANSFER_LINK_WORKFLOW } from '../transfers/transfer-contract.ts';

/**
 * Every workflow type the worker registers (workflows/index.ts exports one function of each
 * name; a unit test keeps the two lists equal). `workflows:versions` counts each one's running
 * workflows.
 */
export const WORKFLOW_TYPES: readonly string[] = [
  MEMBER_LIFECYCLE_WORKFLOW,
  STATUS_CHANGE_WORKFLOW,
  MEMBER_TRANSFER_WORKFLOW,
  TRANSFER_LINK_WORKFLOW,
  'eventChainAnchoring',
  MEMBER_RENEWAL_WORKFLOW,
  RENEWAL_RUN_WORKFLOW,
  PAYMENT_VERIFICATION_WORKFLOW,
  PAYMENT_RECONCILIATION_WORKFLOW,
];
