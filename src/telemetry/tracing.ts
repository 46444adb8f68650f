import type { Context } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config.ts';

/*
 * Traces (docs/observability.md, "Traces"): from the HTTP request through the workflow and its
 * activities to SQL. The API's and the worker's processes start this from src/telemetry/preload.ts
 * (before the modules it instruments are loaded) when OTLP is configured; otherwise nothing is
 * recorded or sent. The Temporal interceptors (src/temporal/tracing-interceptors.ts) carry the
 * context from the client through the workflow to its activities.
 *
 * The SDK, its exporter and the instrumentations are imported here only when tracing starts:
 * a process without OTLP configured never loads them (the API's idle memory, docs/observability.md).
 */

export interface Tracing {
  /** Every span ends here, the workflows' too (the worker's sink hands them over). */
  processor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** Whether the settings ask for spans to be exported. */
export function tracingConfigured(settings: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): boolean {
  return settings.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}

/** Health probes and scrapes: traced, they would be most of the spans and say nothing. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Installs the tracer provider (W3C trace context, AsyncLocalStorage) exporting over OTLP/HTTP,
 * and the http and pg instrumentations (Express 5 is outside the express instrumentation of this
 * SDK line: the http server span takes Express's matched route instead). Once per process. Query parameters' values
 * are never recorded (pg's enhanced reporting stays off); SQL without a traced caller (the
 * lifecycle-start relay's polling) makes no span.
 */
export function startTracing(serviceName: string): Promise<Tracing> {
  starting ??= loadTracing(serviceName).then((tracing) => (active = tracing));
  return starting;
}

let starting: Promise<Tracing> | undefined;

async function loadTracing(serviceName: string): Promise<Tracing> {
  const [{ OTLPTraceExporter }, { registerInstrumentations }, { HttpInstrumentation }, { PgInstrumentation }, { Resource }, { BatchSpanProcessor }, { NodeTracerProvider }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/instrumentation'), import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'), import('@opentelemetry/resources'), import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/sdk-trace-node'),
  ]);
  const resource = new Resource({ 'service.name': serviceName });
  const processor = new ScrubbingSpanProcessor(new BatchSpanProcessor(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        // The route pattern Express matched (never the raw path, which holds ids), as the request
        // metrics name it (api/metrics.ts): on the server span, and in its name.
        applyCustomAttributesOnSpan: (span, request) => {
          const route = (request as { route?: { path?: unknown } }).route?.path;
          if (typeof route === 'string') {
            span.setAttribute('http.route', route);
            span.updateName(`${(request as { method?: string }).method ?? 'HTTP'} ${route}`);
          }
        },
      }),
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  return { processor, resource, shutdown: () => provider.shutdown() };
}

/** The running tracing, if this process started it (tracing configured). */
export function activeTracing(): Tracing | undefined {
  return active;
}

export async function stopTracing(): Promise<void> {
  await active?.shutdown();
}

/** Attributes that name a person or the device they used: never exported. */
const DROPPED = ['net.peer.ip', 'net.sock.peer.addr', 'net.sock.peer.port', 'http.client_ip', 'client.address', 'client.port', 'network.peer.address', 'http.user_agent', 'user_agent.original', 'url.query', 'enduser.id'];
/** Attributes holding a URL or path: kept without its query string (`?token=...` links from mail). */
const WITHOUT_QUERY = ['http.url', 'http.target', 'url.full', 'http.route', 'url.path'];

/** Removes personal data from a span's attributes before it is exported (docs/observability.md, "What spans hold"). */
export function scrubSpanAttributes(attributes: Record<string, unknown>): void {
  for (const key of DROPPED) delete attributes[key];
  for (const key of WITHOUT_QUERY) {
    const value = attributes[key];
    if (typeof value === 'string' && value.includes('?')) attributes[key] = value.slice(0, value.indexOf('?'));
  }
}

class ScrubbingSpanProcessor implements SpanProcessor {
  private readonly next: SpanProcessor;
  constructor(next: SpanProcessor) {
    this.next = next;
  }
  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    scrubSpanAttributes(span.attributes);
    this.next.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}
