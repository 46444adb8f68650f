/**
 * The lists `workflows:versions` counts by stay whole: every workflow type the worker registers
 * is in WORKFLOW_TYPES, and every patch id a workflow calls patched() or deprecatePatch() with is
 * in PATCH_IDS (docs/workflow-rollout.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/paths.ts';
import { WORKFLOW_TYPES } from '../../src/temporal/workflow-types.ts';
import * as patches from '../../src/temporal/workflow-patches.ts';

const WORKFLOWS_DIR = path.join(projectRoot, 'workflows');

function workflowSources(dir = WORKFLOWS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? workflowSources(file) : entry.name.endsWith('.ts') ? [file] : [];
  });
}

test('WORKFLOW_TYPES names every workflow workflows/index.ts exports, and no other', () => {
  const exported = [...readFileSync(path.join(WORKFLOWS_DIR, 'index.ts'), 'utf8').matchAll(/export \{ (\w+) \}/g)].map((match) => match[1]);
  expect([...WORKFLOW_TYPES].sort()).toEqual(exported.sort());
});

test('every patched() and deprecatePatch() call takes its id from src/temporal/workflow-patches.ts, and every id there is known', () => {
  const exported = patches as unknown as Record<string, unknown>;
  // Comments like "guarded with patched()" only name the functions.
  const calls = workflowSources()
    .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\b(?:patched|deprecatePatch)\(([^)]*)\)/g)]
    .map((match) => ({ file: path.relative(projectRoot, file), argument: match[1]!.trim() })))
    .filter((call) => call.argument !== '');
  expect(calls.length).toBeGreaterThanOrEqual(2);
  for (const call of calls) {
    const id = /^'[^']*'$/.test(call.argument) ? call.argument.slice(1, -1) : exported[call.argument];
    expect([call, patches.PATCH_IDS.includes(id as string)]).toEqual([call, true]);
  }
  expect(new Set(patches.PATCH_IDS).size).toBe(patches.PATCH_IDS.length);
  expect(patches.PATCH_IDS).toEqual(expect.arrayContaining([patches.CONTACT_TAKEN_REFUSAL, patches.OPERATOR_SIGNAL_ACTORS]));
});
