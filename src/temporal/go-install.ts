import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Whether a Go toolchain is on the PATH (the tools the product builds once need it). */
export function goAvailable(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `go install` of the given package@version paths into binDir (a static build, its output on
 * this process's stderr). Fetches through the Go module proxy.
 * @throws Error naming the packages and what to do next when the build fails.
 */
export function goInstall(packages: string[], binDir: string, advice: string): void {
  mkdirSync(binDir, { recursive: true });
  const build = spawnSync('go', ['install', ...packages], {
    env: { ...process.env, GOBIN: binDir, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0) {
    throw new Error(`"go install ${packages.join(' ')}" failed (exit ${String(build.status)}). Check that the Go module proxy is reachable, ${advice}`);
  }
}

/** Where `go mod download` puts a module (downloading it through the proxy if it is not in the module cache). */
export function goModuleDir(moduleAtVersion: string): string {
  const download = spawnSync('go', ['mod', 'download', '-json', moduleAtVersion], { encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  const info = download.status === 0 ? (JSON.parse(download.stdout) as { Dir?: string; Error?: string }) : undefined;
  if (!info?.Dir) throw new Error(`"go mod download ${moduleAtVersion}" failed: ${info?.Error ?? download.stderr}`);
  return info.Dir;
}
