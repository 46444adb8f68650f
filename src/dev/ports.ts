import { spawnSync } from 'node:child_process';
import net from 'node:net';
import type { Config } from '../config.ts';
import { StartRefusal } from './start-refusal.ts';

export interface WantedPort {
  /** The setting that chooses it, e.g. POSTGRES_PORT. */
  variable: string;
  host: string;
  port: number;
}

/** The ports `npm start` binds, leaving out the services given by URL (started elsewhere). */
export function portsToStart(settings: Config): WantedPort[] {
  const local = '127.0.0.1';
  return [
    ...(settings.DATABASE_URL ? [] : [{ variable: 'POSTGRES_PORT', host: local, port: settings.POSTGRES_PORT }]),
    ...(settings.TEMPORAL_ADDRESS
      ? []
      : [{ variable: 'TEMPORAL_PORT', host: local, port: settings.TEMPORAL_PORT }, { variable: 'TEMPORAL_UI_PORT', host: local, port: settings.TEMPORAL_UI_PORT }]),
    ...(settings.SMTP_URL
      ? []
      : [{ variable: 'MAIL_SMTP_PORT', host: local, port: settings.MAIL_SMTP_PORT }, { variable: 'MAIL_UI_PORT', host: local, port: settings.MAIL_UI_PORT }]),
    { variable: 'API_PORT', host: settings.API_HOST, port: settings.API_PORT },
    { variable: 'METRICS_PORT', host: settings.METRICS_HOST, port: settings.METRICS_PORT },
    ...(settings.NODE_ENV === 'production' ? [] : [{ variable: 'GATEWAY_SIMULATOR_PORT', host: local, port: settings.GATEWAY_SIMULATOR_PORT }]),
  ];
}

function isFree({ host, port }: WantedPort): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Which program listens on the port, from `ss` when the machine has it (best effort). */
function holderOf(port: number): string | null {
  const ss = spawnSync('ss', ['-H', '-ltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (ss.status !== 0) return null;
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(ss.stdout);
  return match ? `${match[1]} (pid ${match[2]})` : null;
}

/** The message naming each taken port, its setting, who holds it and what to do. */
export function takenPortsMessage(taken: readonly WantedPort[]): string {
  const lines = taken.map((p) => {
    const holder = holderOf(p.port);
    return `  ${p.variable}=${p.port} on ${p.host} is already in use${holder ? ` by ${holder}` : ''}`;
  });
  return [
    'npm start cannot bind the ports it needs:',
    ...lines,
    'Another npm start may still be running (stop it with Ctrl-C), or another program uses the port:',
    `stop it, or choose free ports, e.g. ${taken.map((p) => `${p.variable}=${p.port + 1}`).join(' ')} npm start`,
  ].join('\n');
}

/**
 * Checks every port before anything starts, so a taken one is named at once instead of
 * surfacing as a child's crash after half the stack is up.
 * @throws StartRefusal naming each taken port.
 */
export async function assertPortsFree(ports: readonly WantedPort[]): Promise<void> {
  const taken: WantedPort[] = [];
  for (const port of ports) if (!(await isFree(port))) taken.push(port);
  if (taken.length > 0) throw new StartRefusal(takenPortsMessage(taken));
}
