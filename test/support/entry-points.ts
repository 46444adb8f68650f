import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../src/paths.ts';

/** A production entry point (`npm run api`, `npm run worker`) run as its own process, with exactly `env`. */
export interface EntryPointProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM to npm and the node process it started, then waits until both are gone (their output closed). */
  stop(): Promise<void>;
}

/** Runs the npm script's command (from package.json) as a child process of this test, its output kept. */
export function startEntryPoint(script: 'api' | 'worker', env: Record<string, string | undefined>): EntryPointProcess {
  const child = spawn('npm', ['run', '--silent', script], { cwd: projectRoot, env: { PATH: `${process.execPath.replace(/\/node$/, '')}:${process.env.PATH ?? ''}`, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    async stop() {
      // 'close': every process holding the output pipes (npm and the entry point) has exited, so
      // no worker of this test still polls the task queue the next test file uses.
      const closed = new Promise((resolve) => (child.stdout?.closed && child.stderr?.closed ? resolve(undefined) : child.once('close', resolve)));
      try {
        process.kill(-child.pid!, 'SIGTERM'); // npm and the node process it started
      } catch {
        // already gone
      }
      const kill = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 15_000);
      await closed;
      clearTimeout(kill);
    },
  };
}

/** Polls `probe` until it answers a value, failing early (with the processes' output) if one of them exits. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, processes: EntryPointProcess[], timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of processes) if (p.child.exitCode !== null) throw new Error(`an entry point exited while waiting for ${what}:\n${p.output()}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${processes.map((p) => p.output()).join('\n---\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
