import { parentPort } from 'node:worker_threads';

/** The client thread of bench/support/http-client.ts: fetches, reads the whole answer, reports the time. */
parentPort!.on('message', (message: { id: number; url: string; token?: string; keepBody: boolean }) => {
  void (async () => {
    const headers: Record<string, string> = { accept: 'application/vnd.api+json' };
    if (message.token) headers.authorization = `Bearer ${message.token}`;
    const start = performance.now();
    const res = await fetch(message.url, { headers });
    const body = await res.text();
    const ms = performance.now() - start;
    parentPort!.postMessage({ id: message.id, ms, status: res.status, ...(message.keepBody || res.status >= 400 ? { body } : {}) });
  })().catch((err: unknown) => parentPort!.postMessage({ id: message.id, ms: Number.NaN, status: 0, body: String(err) }));
});
