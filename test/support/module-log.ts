import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Loaded with `--import` (NODE_OPTIONS) into a production entry point a test runs: appends the URL
 * of every module the entry point's process resolves, once each, to the file MODULE_LOG names,
 * so the test can say which packages the process loaded. Other processes that inherit
 * NODE_OPTIONS (npm itself) write nothing.
 */
const file = process.env.MODULE_LOG;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = process.argv[1] ?? '';
if (file && entry.startsWith(root) && !entry.includes(`${path.sep}node_modules${path.sep}`)) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (!seen.has(resolved.url)) {
        seen.add(resolved.url);
        appendFileSync(file, `${resolved.url}\n`);
      }
      return resolved;
    },
  });
}
