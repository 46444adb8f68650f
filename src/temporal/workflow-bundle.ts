import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../paths.ts';

export const WORKFLOW_BUNDLE_PATH = path.join(projectRoot, 'dist', 'workflow-bundle.js');
/** Beside the bundle: the sha256 of every project file it was built from, and of the lock file that fixes the rest. */
export const WORKFLOW_BUNDLE_SOURCES_PATH = path.join(projectRoot, 'dist', 'workflow-bundle.sources.json');

const Sources = z.object({ files: z.record(z.string(), z.string()) });

function sha256(file: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return null;
  }
}

/**
 * What a bundle built from these files must still find, keyed by path from the project root:
 * the project's own files among them (webpack's file dependencies outside node_modules; not
 * package.json, read only for its module type) and package-lock.json, which fixes the versions
 * of everything under node_modules.
 */
export function sourceDigests(files: Iterable<string>, root = projectRoot): Record<string, string> {
  const digests: Record<string, string> = {};
  const own = [...files].map((file) => path.relative(root, file))
    .filter((file) => !file.startsWith('..') && !path.isAbsolute(file) && !file.split(path.sep).includes('node_modules') && file !== 'package.json');
  for (const file of [...own, 'package-lock.json'].sort()) {
    const digest = sha256(path.join(root, file));
    if (digest !== null) digests[file] = digest;
  }
  return digests;
}

export interface PrebuiltBundle {
  path: string | undefined;
  /** Why a bundle that exists is not used. */
  stale?: string;
}

/**
 * The pre-built workflow bundle (`npm run build:workflows`) when it was built from the files
 * now in the tree; otherwise why not (none built: no reason; built from other sources: the
 * first file that differs), and the worker bundles the workflows at its start instead. So a
 * worker never runs workflow code older than its checkout.
 */
export function prebuiltWorkflowBundle(bundlePath = WORKFLOW_BUNDLE_PATH, sourcesPath = WORKFLOW_BUNDLE_SOURCES_PATH, root = projectRoot): PrebuiltBundle {
  if (!existsSync(bundlePath)) return { path: undefined };
  let recorded: Record<string, string>;
  try {
    recorded = Sources.parse(JSON.parse(readFileSync(sourcesPath, 'utf8'))).files;
  } catch {
    return { path: undefined, stale: `${path.relative(root, sourcesPath)} is missing or unreadable` };
  }
  for (const [file, digest] of Object.entries(recorded)) {
    if (sha256(path.join(root, file)) !== digest) return { path: undefined, stale: `${file} changed since the bundle was built` };
  }
  return { path: bundlePath };
}
