import net from 'node:net';
import type { ComposeProject } from './compose-file.ts';

// The Temporal services of docker-compose.yml as the compose test runs them without Docker:
// the admin-tools services' shell scripts and the server's ports and dynamic config.

/** The script of a service whose entrypoint is `/bin/sh -ec` and whose command is that script (temporal-schema, temporal-setup). */
export function shellScript(project: ComposeProject, service: string): string {
  const definition = project.services[service]!;
  expect(definition.entrypoint).toEqual(['/bin/sh', '-ec']);
  expect(Array.isArray(definition.command) && definition.command.length === 1).toBe(true);
  return (definition.command as string[])[0]!;
}

/** The inline content of a top-level `configs` entry (compose's `configs.<name>.content`). */
export function configContent(project: ComposeProject, name: string): string {
  const content = (project as { configs?: Record<string, { content?: string }> }).configs?.[name]?.content;
  if (content === undefined) throw new Error(`docker-compose.yml has no inline config ${name}`);
  return content;
}

/** The target path a service mounts a config at. */
export function configTarget(project: ComposeProject, service: string, name: string): string {
  const configs = (project.services[service] as { configs?: Array<{ source: string; target: string }> }).configs ?? [];
  const entry = configs.find((config) => config.source === name);
  if (!entry) throw new Error(`${service} does not mount the config ${name}`);
  return entry.target;
}

/**
 * The server ports the temporalio/server image's config template reads from the environment
 * (FRONTEND_GRPC_PORT and the rest; defaults 7233-7239 and 6933-6939), each given a port of
 * this test's so the server shares the machine with other tests.
 */
export const TEMPORAL_SERVER_PORT_VARIABLES = [
  'FRONTEND_GRPC_PORT', 'FRONTEND_HTTP_PORT', 'FRONTEND_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT', 'HISTORY_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT', 'MATCHING_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT', 'WORKER_MEMBERSHIP_PORT',
] as const;

/**
 * A free port below 32768. The server records each service's membership port in Postgres
 * (cluster_membership.rpc_port, a smallint): a port from the ephemeral range (32768 and up,
 * what a port-0 listen gives) stops it with "value out of range for type smallint". Compose's
 * ports (6933-6939, 7233-7243) are far below.
 */
export async function freeMembershipPort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port (what the service's `nc -z` health check asks). */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
