import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { projectRoot } from '../src/paths.ts';
import { startApiHarness } from '../test/support/api-harness.ts';
import { startTestServers } from '../test/support/servers.ts';
import { benchCards } from './sections/cards.ts';
import { benchLifecycles } from './sections/lifecycle.ts';
import { benchRegistration } from './sections/registration.ts';
import { describeMachine } from './support/machine.ts';
import { renderReport, type BenchReport } from './support/report.ts';

/**
 * `npm run bench`: every figure in one run, each next to a baseline measured in the same run
 * on the same servers. `--quick` is a small smoke run. Writes bench/results/<date>.md and .json.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const servers = await startTestServers(true);
  Object.assign(process.env, servers.env);
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  try {
    const postgres = await api.db.app.oneFirst(sql.type(z.object({ v: z.string() }))`SELECT current_setting('server_version') AS v`);
    const report: BenchReport = { date: new Date().toISOString(), quick, machine: describeMachine(postgres), sections: {} };
    log('ID cards');
    report.sections.cards = await benchCards(quick ? 10 : 100);
    log('lifecycles');
    report.sections.lifecycles = await benchLifecycles(api, quick ? 10 : 200, quick ? 4 : 20);
    log('registration latency');
    report.sections.registration = await benchRegistration(api, quick ? 5 : 20, quick ? 2 : 15);
    const dir = path.join(projectRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const stem = path.join(dir, `${report.date.slice(0, 10)}${quick ? '-quick' : ''}`);
    await writeFile(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${stem}.md`, renderReport(report));
    log(`wrote ${stem}.md`);
  } finally {
    await api.stop();
    await servers.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
