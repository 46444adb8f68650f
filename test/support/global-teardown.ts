import type { TestServers } from './servers.ts';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __testServers?: TestServers }).__testServers?.stop();
}
