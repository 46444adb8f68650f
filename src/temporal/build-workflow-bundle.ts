import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './membership-worker.ts';
import { FAILURE_CONVERTER_PATH } from './payload-codec.ts';
import { WORKFLOW_TRACING_INTERCEPTORS } from './tracing-interceptors.ts';
import { sourceDigests, WORKFLOW_BUNDLE_PATH, WORKFLOW_BUNDLE_SOURCES_PATH } from './workflow-bundle.ts';

/**
 * Production loads this pre-built bundle instead of bundling the workflows at every start. Its
 * failures carry their messages encoded (encrypted by the worker's codec). Beside it go the
 * digests of the files webpack read, so a worker can tell a bundle older than its sources.
 */
async function main(): Promise<void> {
  const files = new Set<string>();
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS],
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [...(config.plugins ?? []), {
        apply: (compiler) => compiler.hooks.done.tap('workflow-bundle-sources', (stats) => {
          for (const file of stats.compilation.fileDependencies) files.add(file);
        }),
      }],
    }),
  });
  await mkdir(path.dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  await writeFile(WORKFLOW_BUNDLE_PATH, code);
  await writeFile(WORKFLOW_BUNDLE_SOURCES_PATH, `${JSON.stringify({ files: sourceDigests(files) }, null, 2)}\n`);
  process.stdout.write(`wrote ${WORKFLOW_BUNDLE_PATH} (${files.size} source files)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
