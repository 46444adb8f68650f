import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { DatabasePool } from 'slonik';
import { pingDatabase } from '../src/db/pool.ts';

export interface HealthDeps {
  pool: DatabasePool;
  temporal: Client;
  namespace: string;
}

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function check(name: string, probe: () => Promise<unknown>): Promise<{ name: string; ok: boolean; detail?: string }> {
  try {
    await withTimeout(probe());
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message };
  }
}

/**
 * `/healthz`: the process is up. `/readyz`: Postgres and Temporal answer (200 `ready`) or not
 * (503 `unavailable`). Only with `detail` (the private ops listener, api/ops-app.ts) does
 * `/readyz` name what is down and how it failed: error messages carry host names, addresses
 * and server versions, which a public probe must not hand to anyone who asks.
 */
export function healthRoutes(deps: HealthDeps, { detail }: { detail: boolean }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = await Promise.all([
      check('postgres', () => pingDatabase(deps.pool)),
      check('temporal', () =>
        // A deadline inside the timeout: the client's own retries end before the check answers.
        deps.temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS - 500, () => deps.temporal.workflowService.getSystemInfo({})),
      ),
    ]);
    const down = checks.filter((c) => !c.ok);
    res.status(down.length ? 503 : 200).setHeader('cache-control', 'no-store');
    if (!detail) {
      res.json({ status: down.length ? 'unavailable' : 'ready' });
      return;
    }
    res.json({ status: down.length ? `unavailable: ${down.map((c) => c.name).join(', ')}` : 'ready', checks });
  });
  return router;
}
