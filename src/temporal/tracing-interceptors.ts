import path from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerInterceptors, WorkerOptions } from '@temporalio/worker';
import { projectRoot } from '../paths.ts';
import { activeTracing } from '../telemetry/tracing.ts';

/*
 * Temporal's OpenTelemetry interceptors (docs/observability.md, "Traces"): the client's (with
 * tracing configured) put the caller's trace context in the headers of what it starts, updates
 * and signals; the workflow's (in every workflow bundle, so the bundle never depends on the
 * environment; active only in a workflow that received a trace context) record the workflow's
 * spans and hand them to the worker through the `exporter` sink; the activity's continue the
 * trace in each activity, around its SQL. With tracing not configured the tracer is a no-op,
 * no header is added and the sink drops what it is given. The clients' interceptor is set up in
 * src/temporal/tracing-client.ts (the API imports that one, not this module, which the worker needs).
 */

/** The workflow interceptor module every bundle of the membership workflows includes: Temporal's, active in traced workflows only (workflows/tracing-interceptors.ts). */
export const WORKFLOW_TRACING_INTERCEPTORS = path.join(projectRoot, 'workflows', 'tracing-interceptors.ts');

/** For Worker.create (or a replay): the workflow spans' sink and the activity interceptors. */
export function tracingWorkerOptions(): { sinks: NonNullable<WorkerOptions['sinks']>; interceptors: Required<Pick<WorkerInterceptors, 'activity'>> } {
  // Tracing not configured: a processor that drops every span.
  const { processor, resource } = activeTracing() ?? { processor: new NoopSpanProcessor(), resource: new Resource({}) };
  return {
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    interceptors: { activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })] },
  };
}
