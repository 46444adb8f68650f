import { Worker } from 'node:worker_threads';

/** What the client thread answers for one timed request. */
interface Timing {
  id: number;
  ms: number;
  status: number;
  body?: string;
}

/** What an open loop on the client thread answers: every request's time and the statuses seen (0: no answer). */
export interface OpenLoopResult {
  samples: number[];
  statuses: Record<number, number>;
}

/**
 * An HTTP load generator on its own thread: requests are sent, and their answers read and
 * timed, on that thread's event loop, never on the one that serves them. (Calling an API
 * from the process that serves it puts the client's fetch, parsing and timers in the same
 * queue as the server's work, and its time into what is measured as the server's.)
 */
export class HttpClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (t: never) => void; reject: (e: Error) => void }>();
  #next = 0;

  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
    this.#worker = new Worker(new URL('./http-client-thread.ts', import.meta.url));
    this.#worker.on('message', (t: Timing | (OpenLoopResult & { id: number })) => {
      this.#pending.get(t.id)?.resolve(t as never);
      this.#pending.delete(t.id);
    });
    this.#worker.on('error', (err) => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    });
  }

  /** One GET, timed on the client thread from sending to the last byte of the answer. */
  get(path: string, token?: string, options: { keepBody?: boolean } = {}): Promise<Timing> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, url: `${this.baseUrl}${path}`, token, keepBody: options.keepBody ?? false });
    });
  }

  /**
   * An open loop run on the client thread: `rate` requests a second for `seconds`, whether or not
   * earlier ones have answered. `{i}` in the body template becomes each request's index.
   */
  openLoop(path: string, options: { method?: string; headers?: Record<string, string>; bodyTemplate?: string; rate: number; seconds: number }): Promise<OpenLoopResult> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ kind: 'openLoop', id, url: `${this.baseUrl}${path}`, method: options.method ?? 'GET', headers: options.headers ?? {},
        bodyTemplate: options.bodyTemplate, rate: options.rate, total: Math.round(options.rate * options.seconds) });
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
