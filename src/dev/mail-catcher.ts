import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MailCatcherOptions {
  /** 0 picks a free port. */
  smtpPort: number;
  /** 0 picks a free port. */
  webPort: number;
  /** Both servers bind here; the web UI has no login, so keep it on loopback. */
  host?: string;
  onLog?: (line: string) => void;
}

export interface MailCatcher {
  smtpUrl: string;
  /** The inbox in a browser; the REST API is under `${webUrl}api/email`. */
  webUrl: string;
  stop(): Promise<void>;
}

interface ChildConfig {
  smtpPort: number;
  webPort: number;
  host: string;
  mailDirectory: string;
}

type ChildMessage = { ready: true; smtpPort: number; webPort: number } | { ready: false; error: string };

const CHILD_FLAG = '--mail-catcher-child';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Runs MailDev (SMTP catcher with a web inbox) in a child process that it supervises: the
 * child exits when stopped, when this process exits, or when its IPC channel closes, and
 * the mail it caught lives in a temporary directory removed on the way out.
 * @throws Error when MailDev cannot start, e.g. a port is taken.
 */
export async function startMailCatcher(options: MailCatcherOptions): Promise<MailCatcher> {
  const host = options.host ?? '127.0.0.1';
  const mailDirectory = mkdtempSync(path.join(os.tmpdir(), 'sadasya-mail-'));
  const config: ChildConfig = { smtpPort: options.smtpPort, webPort: options.webPort, host, mailDirectory };
  const output = options.onLog ? 'pipe' : 'ignore';
  const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, JSON.stringify(config)], {
    execArgv: [],
    stdio: ['ignore', output, options.onLog ? 'pipe' : 'inherit', 'ipc'],
  });
  const forward = (chunk: Buffer): void => options.onLog?.(chunk.toString('utf8'));
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const cleanUp = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(mailDirectory, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);

  let ports: { smtpPort: number; webPort: number };
  try {
    ports = await awaitReady(child);
  } catch (err) {
    await stopChild(child);
    process.off('exit', cleanUp);
    cleanUp();
    throw err;
  }
  let stopping = false;
  child.once('exit', (code) => {
    if (!stopping) options.onLog?.(`MailDev exited unexpectedly with code ${String(code)}\n`);
  });
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    smtpUrl: `smtp://${urlHost}:${ports.smtpPort}`,
    webUrl: `http://${urlHost}:${ports.webPort}/`,
    async stop() {
      stopping = true;
      await stopChild(child);
      process.off('exit', cleanUp);
      cleanUp();
    },
  };
}

function awaitReady(child: ChildProcess): Promise<{ smtpPort: number; webPort: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`MailDev did not start within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const settle = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ChildMessage): void => {
      settle();
      if (message.ready) resolve({ smtpPort: message.smtpPort, webPort: message.webPort });
      else reject(new Error(`MailDev failed to start: ${message.error}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      settle();
      reject(new Error(`MailDev exited before it was ready (code ${String(code)}, signal ${String(signal)})`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function runChild(config: ChildConfig): Promise<void> {
  const { MailDev } = await import('maildev');
  const maildev = new MailDev({
    smtp: config.smtpPort,
    web: config.webPort,
    ip: config.host,
    webIp: config.host,
    mailDirectory: config.mailDirectory,
    maxEmails: 1000,
    silent: true,
  });
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void maildev
      .stop()
      .finally(() => rmSync(config.mailDirectory, { recursive: true, force: true }))
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.once('disconnect', shutdown);
  const servers = await maildev.start();
  const ready: ChildMessage = { ready: true, smtpPort: servers.smtp.getPort(), webPort: servers.api?.getPort() ?? config.webPort };
  process.send?.(ready);
}

if (process.argv[2] === CHILD_FLAG && process.send) {
  const config = JSON.parse(process.argv[3] ?? '{}') as ChildConfig;
  runChild(config).catch((err: unknown) => {
    const failure: ChildMessage = { ready: false, error: err instanceof Error ? err.message : String(err) };
    process.send?.(failure, () => process.exit(1));
  });
}
