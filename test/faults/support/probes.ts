import { call, errorCode, sleep, type CallOptions } from './api-client.ts';

export interface Probe {
  name: string;
  method: string;
  path: string;
  options?: CallOptions;
}

export interface ProbeAnswer {
  name: string;
  atMs: number;
  status: number;
  code: string | undefined;
  ms: number;
}

/**
 * Calls every probe once per round, rounds `everyMs` apart, until `forMs` have passed since
 * `since` (a round never starts later than that). @returns every answer, with how long it took.
 */
export async function probeUntil(baseUrl: string, probes: readonly Probe[], since: number, forMs: number, everyMs = 3_000): Promise<ProbeAnswer[]> {
  const answers: ProbeAnswer[] = [];
  while (Date.now() - since < forMs - everyMs / 2) {
    const round = Date.now();
    const results = await Promise.all(probes.map(async (probe) => {
      const atMs = Date.now() - since;
      const answer = await call(baseUrl, probe.method, probe.path, { timeoutMs: 60_000, ...probe.options });
      return { name: probe.name, atMs, status: answer.status, code: answer.status === 503 ? errorCode(answer) : undefined, ms: answer.ms };
    }));
    answers.push(...results);
    await sleep(Math.max(0, everyMs - (Date.now() - round)));
  }
  return answers;
}

/** Polls GET `path` until it answers 200. @returns how long that took. */
export async function untilOk(baseUrl: string, path: string, options: CallOptions = {}, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const answer = await call(baseUrl, 'GET', path, { timeoutMs: 10_000, ...options });
    if (answer.status === 200) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${path} still answers ${answer.status} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** The largest answer time per probe name, and the statuses seen. */
export function summarize(answers: readonly ProbeAnswer[]): Record<string, { calls: number; statuses: number[]; codes: string[]; maxMs: number }> {
  const out: Record<string, { calls: number; statuses: number[]; codes: string[]; maxMs: number }> = {};
  for (const a of answers) {
    const entry = (out[a.name] ??= { calls: 0, statuses: [], codes: [], maxMs: 0 });
    entry.calls++;
    if (!entry.statuses.includes(a.status)) entry.statuses.push(a.status);
    if (a.code && !entry.codes.includes(a.code)) entry.codes.push(a.code);
    entry.maxMs = Math.max(entry.maxMs, a.ms);
  }
  return out;
}
