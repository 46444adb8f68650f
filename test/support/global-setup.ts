import { startTestServers } from './servers.ts';

/** Runs once per `jest` run, outside the test sandboxes: servers and the workflow bundle live here. */
export default async function globalSetup(): Promise<void> {
  const withServers = process.env.TEST_TIER !== 'unit';
  const servers = await startTestServers(withServers);
  Object.assign(process.env, servers.env);
  (globalThis as { __testServers?: typeof servers }).__testServers = servers;
}
