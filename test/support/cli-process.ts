import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/paths.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node src/cli/main.ts ...args` as an operator runs it, with only PATH, HOME, NODE_ENV=test and
 * the environment given here (nothing of the test process leaks in), `input` on stdin.
 */
export function runOperatorCli(args: string[], env: Record<string, string>, input = ''): Promise<CliRun> {
  const environment = { PATH: process.env.PATH ?? '', HOME: os.homedir(), NODE_ENV: 'test', ...env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'src/cli/main.ts'), ...args], { env: environment, cwd: projectRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
