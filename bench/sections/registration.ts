import type { ApiHarness } from '../../test/support/api-harness.ts';
import { ratio, summarize, type Latency } from '../support/stats.ts';
import { ELIGIBLE } from '../../test/support/eligibility.ts';

/** Open loop: requests leave at a fixed rate whether or not earlier ones have answered. */
async function atFixedRate(ratePerSecond: number, seconds: number, send: (i: number) => Promise<number>): Promise<{ latency: Latency; statuses: Record<number, number> }> {
  const total = Math.round(ratePerSecond * seconds);
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  const samples: number[] = [];
  const statuses: Record<number, number> = {};
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push((async () => {
      const t0 = performance.now();
      const status = await send(i);
      samples.push(performance.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
    })());
  }
  await Promise.all(inFlight);
  return { latency: summarize(samples), statuses };
}

/** Registration latency at a fixed request rate, against a trivial endpoint of the same app. */
export async function benchRegistration(api: ApiHarness, ratePerSecond: number, seconds: number) {
  const body = (i: number) => JSON.stringify({ data: { type: 'applications', attributes: {
    ...ELIGIBLE, fullNameEn: 'Rate Test', fullNameNe: 'दर परीक्षण', gender: 'M', phone: `9851${String(i).padStart(6, '0')}`, wardId: api.geo.wardIds[2],
  } } });
  const baseline = await atFixedRate(ratePerSecond, seconds, async () => (await fetch(`${api.baseUrl}/healthz`)).status);
  const registration = await atFixedRate(ratePerSecond, seconds, async (i) => {
    const res = await fetch(`${api.baseUrl}/api/parties/${api.tenant.slug}/applications`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.api+json' }, body: body(i),
    });
    await res.arrayBuffer();
    return res.status;
  });
  return {
    ratePerSecond, seconds, registration: registration.latency, registrationStatuses: registration.statuses,
    trivial: baseline.latency, ratioP95: ratio(registration.latency.p95, baseline.latency.p95),
  };
}
