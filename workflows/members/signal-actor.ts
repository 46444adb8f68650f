/**
 * Who a lifecycle signal is recorded as. Signals come from operators (the Temporal Web UI, the
 * `temporal` CLI): whatever name they type in `by` is theirs, never a user's. `user:<id>` typed
 * by an operator becomes `operator:user-<id>`, which no check of a user's rights ever matches.
 * Pure: the workflow calls it.
 */
export function signalActor(by: unknown): string {
  const typed = typeof by === 'string' ? by.trim().replace(/^operator:/, '') : '';
  const name = typed.replace(/[^\w.@-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return `operator:${name || 'unnamed'}`;
}
