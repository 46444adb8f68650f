import { contractProblems, documentedRegistry, parsedBody } from '../../support/contract.ts';

export interface Answer {
  /** 0 when no HTTP answer came: refused, reset or timed out (see `error`). */
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON:API documents, read freely by tests
  ms: number;
  error?: string;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** `manual`: a redirect is the answer (its status and Location), not followed. */
  redirect?: 'follow' | 'manual';
}

/**
 * One HTTP call. A failure to get any answer is status 0, with the time it took; an answer
 * that breaks the OpenAPI contract throws ContractBroken.
 */
export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/vnd.api+json', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/vnd.api+json';
  const started = Date.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.redirect ? { redirect: options.redirect } : {}),
    });
    // A live stream (Server-Sent Events) never ends: its status and headers are the answer.
    const stream = res.headers.get('content-type')?.startsWith('text/event-stream');
    if (stream) await res.body?.cancel();
    const body = stream ? null : parsedBody(await res.text());
    const broken = contractProblems(documentedRegistry(), { method, url: path }, { status: res.status, contentType: res.headers.get('content-type') ?? '', body });
    if (broken.length) throw new ContractBroken(`${method} ${path}: ${broken.join('; ')}`);
    return { status: res.status, body, ms: Date.now() - started };
  } catch (err) {
    if (err instanceof ContractBroken) throw err;
    return { status: 0, body: null, ms: Date.now() - started, error: (err as Error).message };
  }
}

/** An answer that breaks the OpenAPI contract: a defect, never a condition to wait out. */
export class ContractBroken extends Error {
  override readonly name = 'ContractBroken';
}

/** The first error code of a JSON:API error document, if any. */
export const errorCode = (answer: Answer): string | undefined => (answer.body as { errors?: { code?: string }[] } | null)?.errors?.[0]?.code;

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
