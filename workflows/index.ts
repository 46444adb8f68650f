export { memberLifecycle } from './members/member-lifecycle.ts';
export { eventChainAnchoring } from './events/chain-anchoring.ts';
export { memberStatusChange } from './members/status-change.ts';
