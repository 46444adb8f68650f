export { memberLifecycle } from './members/member-lifecycle.ts';
export { eventChainAnchoring } from './events/chain-anchoring.ts';
export { memberTransfer } from './transfers/member-transfer.ts';
export { transferLink } from './transfers/transfer-link.ts';
export { memberStatusChange } from './members/status-change.ts';
export { memberRenewal } from './renewals/member-renewal.ts';
export { renewalRun } from './renewals/renewal-run.ts';
export { paymentReconciliationRun } from './payments/reconciliation-run.ts';
