import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from './membership-worker.ts';
import { FAILURE_CONVERTER_PATH } from './payload-codec.ts';
import { WORKFLOW_TRACING_INTERCEPTORS } from './tracing-interceptors.ts';

/** Production loads this pre-built bundle instead of bundling the workflows at every start. Its failures carry their messages encoded (encrypted by the worker's codec). */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS] });
  await mkdir(path.dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  await writeFile(WORKFLOW_BUNDLE_PATH, code);
  process.stdout.write(`wrote ${WORKFLOW_BUNDLE_PATH}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
