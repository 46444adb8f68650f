import path from 'node:path';
import { register } from 'node:module';
import { loadConfig } from '../config.ts';
import { startTracing, tracingConfigured } from './tracing.ts';

/*
 * Loaded before the entry point (`node --import ./src/telemetry/preload.ts api/server.ts`, the npm
 * scripts `api` and `worker`): with OTLP configured, hooks the ES module loader for the modules
 * the instrumentations patch (pg and http; nothing else is wrapped) and starts tracing, so
 * those modules are instrumented when the entry point imports them. Without OTLP it does nothing
 * and loads nothing more: the loader hook and the SDK are imported only when tracing is configured.
 */
const settings = loadConfig();
if (tracingConfigured(settings)) {
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const entry = path.basename(process.argv[1] ?? '');
  await startTracing(settings.OTEL_SERVICE_NAME ?? (entry.startsWith('worker') ? 'sadasya-worker' : 'sadasya-api'));
  await waitForAllMessagesAcknowledged();
}
