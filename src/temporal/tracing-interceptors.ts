import { createRequire } from 'node:module';
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerInterceptors, WorkerOptions } from '@temporalio/worker';
import { currentTracing } from '../telemetry/tracing.ts';

/*
 * Temporal's OpenTelemetry interceptors (docs/observability.md, "Traces"): the client's put the
 * caller's trace context in the headers of what it starts, updates and signals; the workflow's
 * (in every workflow bundle, configured or not, so the bundle and its commands never depend on
 * the environment) record the workflow's spans and hand them to the worker through the
 * `exporter` sink; the activity's continue the trace in each activity, around its SQL. With
 * tracing not configured the tracer is a no-op and the sink drops what it is given.
 */

/** The workflow interceptor module every bundle of the membership workflows includes. */
export const WORKFLOW_TRACING_INTERCEPTORS = createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** For the clients that start and message workflows (API, worker, CLI). */
export function tracingClientInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** For Worker.create (or a replay): the workflow spans' sink and the activity interceptors. */
export function tracingWorkerOptions(): { sinks: NonNullable<WorkerOptions['sinks']>; interceptors: Required<Pick<WorkerInterceptors, 'activity'>> } {
  const { processor, resource } = currentTracing();
  return {
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    interceptors: { activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })] },
  };
}
