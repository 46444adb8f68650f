import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prebuiltWorkflowBundle, sourceDigests } from '../../src/temporal/workflow-bundle.ts';

let root: string;
let bundle: string;
let sources: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'workflow-bundle-'));
  bundle = path.join(root, 'dist', 'workflow-bundle.js');
  sources = path.join(root, 'dist', 'workflow-bundle.sources.json');
  await mkdir(path.join(root, 'workflows'), { recursive: true });
  await mkdir(path.join(root, 'node_modules', 'sdk'), { recursive: true });
  await mkdir(path.join(root, 'dist'));
  await writeFile(path.join(root, 'workflows', 'member.ts'), 'export const a = 1;\n');
  await writeFile(path.join(root, 'node_modules', 'sdk', 'index.js'), 'module.exports = {};\n');
  await writeFile(path.join(root, 'package-lock.json'), '{"lockfileVersion":3}\n');
  await writeFile(path.join(root, 'package.json'), '{"type":"module"}\n');
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** As `npm run build:workflows` leaves it: the bundle and the digests of what webpack read. */
async function build(): Promise<void> {
  await writeFile(bundle, '/* bundle */');
  const read = ['workflows/member.ts', 'node_modules/sdk/index.js', 'package.json'].map((file) => path.join(root, file));
  await writeFile(sources, JSON.stringify({ files: sourceDigests(read, root) }));
}

test('the digests name the project files webpack read and the lock file, not node_modules or package.json', () => {
  const read = ['workflows/member.ts', 'node_modules/sdk/index.js', 'package.json', '/elsewhere/x.ts'].map((file) => path.resolve(root, file));
  expect(Object.keys(sourceDigests(read, root))).toEqual(['package-lock.json', 'workflows/member.ts']);
});

test('a bundle built from the files in the tree is used', async () => {
  await build();
  expect(prebuiltWorkflowBundle(bundle, sources, root)).toEqual({ path: bundle });
});

test('a workflow source edited after the build makes the bundle stale, named by the file', async () => {
  await build();
  await writeFile(path.join(root, 'workflows', 'member.ts'), 'export const a = 2;\n');
  expect(prebuiltWorkflowBundle(bundle, sources, root)).toEqual({ path: undefined, stale: 'workflows/member.ts changed since the bundle was built' });
});

test('a source deleted since, or other locked dependencies, make it stale too', async () => {
  await build();
  await writeFile(path.join(root, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}\n');
  expect(prebuiltWorkflowBundle(bundle, sources, root).stale).toBe('package-lock.json changed since the bundle was built');
  await build();
  await rm(path.join(root, 'workflows', 'member.ts'));
  expect(prebuiltWorkflowBundle(bundle, sources, root).stale).toBe('workflows/member.ts changed since the bundle was built');
});

test('a bundle without its digests (built before they were written) is not trusted; no bundle at all is no warning', async () => {
  await writeFile(bundle, '/* bundle */');
  expect(prebuiltWorkflowBundle(bundle, sources, root)).toEqual({ path: undefined, stale: 'dist/workflow-bundle.sources.json is missing or unreadable' });
  await rm(bundle);
  expect(prebuiltWorkflowBundle(bundle, sources, root)).toEqual({ path: undefined });
});
