import { userInfo } from 'node:os';
import { z } from 'zod';
import { describeDeployment, setCurrentBuild } from '../../temporal/worker-deployment.ts';
import { parseFlags } from './flags.ts';
import { operatorCommand } from './operator-command.ts';
import { withTemporal } from './operator-session.ts';

const PROMOTE_USAGE = 'Usage: npm run cli -- workers:promote --build-id <build id> [--deployment <name>]';
const SHOW_USAGE = 'Usage: npm run cli -- workers:deployment [--deployment <name>]';
const buildId = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-"');
const deployment = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, "_" or "-"').optional();

async function promote(args: string[]): Promise<void> {
  const flags = parseFlags(args, { 'build-id': { type: 'string' }, deployment: { type: 'string' } }, z.object({ 'build-id': buildId, deployment }), PROMOTE_USAGE);
  await withTemporal('workers:promote talks to Temporal', async (client, settings) => {
    const name = flags.deployment ?? settings.WORKER_DEPLOYMENT_NAME;
    await setCurrentBuild(client, name, flags['build-id'], { identity: `cli:${userInfo().username}` });
    process.stdout.write(`${name}:${flags['build-id']} is the current version: workflow tasks go to its workers from now on.\n`
      + 'The previous version drains; stop its workers once `npm run cli -- workers:deployment` shows none running on it.\n');
  });
}

async function show(args: string[]): Promise<void> {
  const flags = parseFlags(args, { deployment: { type: 'string' } }, z.object({ deployment }), SHOW_USAGE);
  await withTemporal('workers:deployment talks to Temporal', async (client, settings) => {
    const name = flags.deployment ?? settings.WORKER_DEPLOYMENT_NAME;
    const versions = await describeDeployment(client, name);
    const width = Math.max(8, ...versions.map((v) => v.buildId.length));
    const lines = [
      `Worker deployment ${name} (namespace ${settings.TEMPORAL_NAMESPACE}):`,
      `${'build id'.padEnd(width)}  ${'status'.padEnd(8)}  running`,
      ...versions.map((v) => `${v.buildId.padEnd(width)}  ${v.status.padEnd(8)}  ${v.running}`),
      '',
      'List a version\'s running workflows with: temporal workflow list --query "<query>"',
      ...versions.map((v) => `  ${v.buildId}: ${v.query}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

export const workersPromote = operatorCommand('Make a worker build the current version of the worker deployment (a rollout step)', promote);
export const workersDeployment = operatorCommand("List the worker deployment's versions, their status and the running workflows on each", show);
