import {
  OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type { WorkflowInterceptors } from '@temporalio/workflow';

/*
 * The OpenTelemetry workflow interceptors every bundle carries (src/temporal/tracing-interceptors.ts),
 * active only in a workflow that is traced: one whose start, update or signal came with a trace
 * context (the `_tracer-data` header the client interceptor adds when the caller traces). Headers
 * never pass through the payload codec, so an untraced workflow must add none: without this, every
 * activity it schedules would carry a plaintext header in Temporal's store. Whether a workflow is
 * traced follows from the inputs recorded in its history, so a replay decides the same.
 */

const TRACE_HEADER = '_tracer-data';

type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** `target`'s methods, each run only once the workflow is traced (else straight to `next`); `marks` names the inbound calls whose headers may make it so. */
function whenTraced<T extends object>(state: { traced: boolean }, target: T, marks = false): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || property === 'constructor') return value;
      const method = value as Method;
      return (input: unknown, next: (input: unknown) => unknown) => {
        const headers = (input as { headers?: Record<string, unknown> } | undefined)?.headers;
        if (marks && headers && TRACE_HEADER in headers) state.traced = true;
        return state.traced ? method.call(object, input, next) : next(input);
      };
    },
  });
}

/** Called once per workflow execution: the `traced` state is the execution's own (module state may be shared between executions). */
export const interceptors = (): WorkflowInterceptors => {
  const state = { traced: false };
  return {
    inbound: [whenTraced(state, new OpenTelemetryInboundInterceptor(), true)],
    outbound: [whenTraced(state, new OpenTelemetryOutboundInterceptor())],
    internals: [whenTraced(state, new OpenTelemetryInternalsInterceptor())],
  };
};
