import { parentPort } from 'node:worker_threads';

interface Timed { id: number; url: string; token?: string; keepBody: boolean }
interface OpenLoop { kind: 'openLoop'; id: number; url: string; method: string; headers: Record<string, string>; bodyTemplate?: string; rate: number; total: number }

/** One request of an open loop: `{i}` in the body becomes the request's index, zero-padded to six digits. */
async function timedRequest(url: string, init: RequestInit): Promise<{ ms: number; status: number; body: string }> {
  const start = performance.now();
  const res = await fetch(url, init);
  const body = await res.text();
  return { ms: performance.now() - start, status: res.status, body };
}

/**
 * Requests leave at a fixed rate whether or not earlier ones have answered (open loop), each
 * timed from sending to its answer's last byte, all on this thread.
 */
async function openLoop(message: OpenLoop): Promise<{ samples: number[]; statuses: Record<number, number> }> {
  const samples: number[] = [];
  const statuses: Record<number, number> = {};
  const intervalMs = 1000 / message.rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < message.total; i++) {
    const wait = started + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const body = message.bodyTemplate?.replaceAll('{i}', String(i).padStart(6, '0'));
    inFlight.push(timedRequest(message.url, { method: message.method, headers: message.headers, body }).then(
      (answer) => { samples.push(answer.ms); statuses[answer.status] = (statuses[answer.status] ?? 0) + 1; },
      () => { statuses[0] = (statuses[0] ?? 0) + 1; },
    ));
  }
  await Promise.all(inFlight);
  return { samples, statuses };
}

/** The client thread of bench/support/http-client.ts: fetches, reads the whole answer, reports the time. */
parentPort!.on('message', (message: Timed | OpenLoop) => {
  if ('kind' in message) {
    void openLoop(message).then((result) => parentPort!.postMessage({ id: message.id, ...result }));
    return;
  }
  void (async () => {
    const headers: Record<string, string> = { accept: 'application/vnd.api+json' };
    if (message.token) headers.authorization = `Bearer ${message.token}`;
    const answer = await timedRequest(message.url, { headers });
    parentPort!.postMessage({ id: message.id, ms: answer.ms, status: answer.status, ...(message.keepBody || answer.status >= 400 ? { body: answer.body } : {}) });
  })().catch((err: unknown) => parentPort!.postMessage({ id: message.id, ms: Number.NaN, status: 0, body: String(err) }));
});
