import { execFile } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../../src/paths.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run cli -- <args>` as a child process (what an operator runs), with these database URLs. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(projectRoot, 'src', 'cli', 'main.ts'), ...args], { env: { ...process.env, ...env }, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
