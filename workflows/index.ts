export { memberLifecycle } from './members/member-lifecycle.ts';
