/** Latency summary in milliseconds. */
export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

export function summarize(samplesMs: readonly number[]): Latency {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(sorted.length, 1);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean };
}

export const round = (x: number, digits = 2) => Number.isFinite(x) ? Number(x.toFixed(digits)) : x;

export function ratio(measured: number, baseline: number): number {
  return round(measured / baseline, 2);
}

/** Times `work` once, in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

export function latencyRow(name: string, l: Latency): string {
  return `| ${name} | ${l.n} | ${round(l.p50)} | ${round(l.p95)} | ${round(l.p99)} |`;
}
