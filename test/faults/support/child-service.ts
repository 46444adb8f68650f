import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../../src/paths.ts';

/**
 * A product entry point (`src/worker.ts`, `api/server.ts`) run as a child process, so a test can
 * SIGKILL it and start it again. Every line it prints, on stdout or stderr, across every run, is
 * kept in `output`.
 */
export class ChildService {
  readonly output: string[] = [];
  starts = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #name: string;
  readonly #script: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(name: string, script: string, env: NodeJS.ProcessEnv) {
    this.#name = name;
    this.#script = path.join(projectRoot, script);
    this.#env = env;
    process.once('exit', () => this.#child?.kill('SIGKILL'));
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The running process's id (to read its memory from /proc). */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** How the last run ended: an exit code, a signal name, or null while it runs. */
  get lastExit(): string | null {
    return this.#child?.exitCode?.toString() ?? this.#child?.signalCode ?? null;
  }

  /** Starts the process; resolves once it prints a line matching `ready`. */
  async start(ready: RegExp, timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.#name} is already running`);
    const child = spawn(process.execPath, [this.#script], { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.starts++;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let pending = '';
    const readyAt = this.output.length;
    const onData = (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      this.output.push(...lines);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => pending && this.output.push(pending));
    await this.waitFor(ready, timeoutMs, readyAt);
  }

  /** Resolves when a line printed since index `from` matches. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.output.slice(from).find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (!this.running) throw new Error(`${this.#name} exited (${String(this.lastExit)}) before printing ${String(pattern)}:\n${this.output.slice(-20).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${this.#name} printed no ${String(pattern)} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Sends the signal and waits until the process is gone. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return this.#exited;
    this.#child?.kill(signal);
    await this.#exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const force = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
    await this.kill('SIGTERM');
    clearTimeout(force);
  }
}
