import type { ClientInterceptors } from '@temporalio/client';
import type { Config } from '../config.ts';
import { tracingConfigured } from '../telemetry/tracing.ts';

/**
 * For the clients that start and message workflows (API, worker): only with tracing configured,
 * since the trace context travels in headers, which the payload codec never encrypts. Without it
 * no header is added and the workflows stay untraced (workflows/tracing-interceptors.ts), and
 * Temporal's OpenTelemetry interceptors (with the SDK parts they import) are not even loaded.
 */
export async function tracingClientInterceptors(settings: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): Promise<ClientInterceptors> {
  if (!tracingConfigured(settings)) return {};
  const { OpenTelemetryWorkflowClientInterceptor } = await import('@temporalio/interceptors-opentelemetry');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}
