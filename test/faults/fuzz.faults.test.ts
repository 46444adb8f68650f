import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { makeTenant } from '../support/fixtures.ts';
import { snapshotChanges, snapshotDatabase, type Snapshot } from './support/db-snapshot.ts';
import { contractProblems, documentedRegistry, parsedBody } from '../support/contract.ts';
import { problemsWith } from './support/error-documents.ts';
import { buildFuzzContext } from './support/fuzz-context.ts';
import { requestsFor, writesState, type FuzzContext, type FuzzRequest } from './support/fuzz-requests.ts';
import { documentedOperations, type Operation } from './support/openapi-operations.ts';
import { settled, terminateLifecycles } from './support/party-fixtures.ts';
import { strayPaths, wrongMethods } from './support/stray-requests.ts';

/** Requests shared among the documented operations, and among wrong methods and stray paths. */
const OPERATION_BUDGET = 9_000;
const STRAY_BUDGET = 1_200;
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

let api: ApiHarness & { stop(): Promise<void> };
let other: Tenant;
let ctx: FuzzContext;
let operations: Operation[];
let before: Snapshot;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const statuses = new Map<string, number>();
const codes = new Map<string, number>();
let sent = 0;

const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

/** Sends one request; throws (so fast-check shrinks it) when the answer is unacceptable or a write succeeded. */
async function send(request: FuzzRequest, writes: boolean): Promise<void> {
  const body = request.body === undefined ? undefined : request.headers['content-type'] === undefined ? Buffer.from(request.body) : request.body;
  const res = await fetch(`${api.baseUrl}${request.path}`, { method: request.method, headers: request.headers, body, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  // A live stream (Server-Sent Events) never ends: its status and headers are the answer.
  const stream = res.headers.get('content-type')?.startsWith('text/event-stream');
  if (stream) await res.body?.cancel();
  const text = stream ? '' : await res.text();
  sent += 1;
  count(statuses, String(res.status));
  const contentType = res.headers.get('content-type') ?? '';
  const problems = problemsWith({ method: request.method, status: res.status, contentType, text });
  problems.push(...contractProblems(documentedRegistry(), { method: request.method, url: request.path }, { status: res.status, contentType, body: parsedBody(text) }));
  if (writes && res.status < 300) problems.push(`a fuzzed write succeeded with ${res.status}: ${text.slice(0, 300)}`);
  if (problems.length) throw new Error(`${request.method} ${request.path} ${JSON.stringify(request.body?.slice(0, 400) ?? '')}\n  ${problems.join('\n  ')}`);
  if (res.status >= 400 && request.method !== 'HEAD') {
    for (const code of new Set((JSON.parse(text) as { errors: { code: string }[] }).errors.map((e) => e.code))) count(codes, `${res.status} ${code}`);
  }
}

/**
 * Runs one property, shrinking its first failure, then spends the rest of its budget counting
 * further failures: one broken endpoint neither hides the others nor shortens the run.
 */
async function failureOf(name: string, requests: fc.Arbitrary<FuzzRequest>, numRuns: number, check: (r: FuzzRequest) => Promise<void>): Promise<string[]> {
  const details = await fc.check(fc.asyncProperty(requests, check), { numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });
  if (!details.failed) return [];
  let more = 0;
  const rest = fc.asyncProperty(requests, (request) => check(request).catch(() => void (more += 1)));
  if (numRuns > details.numRuns) await fc.check(rest, { numRuns: numRuns - details.numRuns, seed: details.seed + 1 });
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return [`${name} (FUZZ_SEED=${details.seed}): ${error.slice(0, 1_500)}\n  and ${more} more failing requests in the rest of its ${numRuns} runs`];
}

const sameSnapshot = (a: Snapshot, b: Snapshot) => snapshotChanges(a, b).length === 0;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 3_600_000 });
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  ctx = await buildFuzzContext(api, other);
  operations = await documentedOperations(api.baseUrl);
  before = await settled(() => snapshotDatabase(api.db.owner), sameSnapshot);
}, 240_000);

afterAll(async () => {
  await terminateLifecycles(api, other.id);
  await api.stop();
});

test('every documented operation answers hostile requests with 4xx JSON:API errors, never a 5xx', async () => {
  expect(operations.map((op) => op.key)).toEqual(expect.arrayContaining(['POST /api/auth/login', 'GET /api/members/{id}', 'POST /api/platform/tenants']));
  const perOperation = Math.ceil(OPERATION_BUDGET / operations.length);
  const failures: string[] = [];
  for (const op of operations) failures.push(...await failureOf(op.key, requestsFor(op, ctx), perOperation, (request) => send(request, writesState(op))));
  expect(failures).toEqual([]);
}, 900_000);

test('undocumented methods, infrastructure endpoints and unknown paths answer 4xx JSON:API errors or succeed harmlessly', async () => {
  const failures = [
    ...await failureOf('wrong methods', wrongMethods(operations, ctx), STRAY_BUDGET / 2, (request) => send(request, request.method !== 'GET' && request.method !== 'HEAD')),
    ...await failureOf('stray paths', strayPaths(ctx), STRAY_BUDGET / 2, (request) => send(request, false)),
  ];
  expect(failures).toEqual([]);
}, 600_000);

test('the fuzzed requests changed no row, no sequence and no prototype', async () => {
  const table = (map: Map<string, number>) => [...map].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `  ${key.padEnd(40)} ${n}`).join('\n');
  process.stdout.write(`\nfuzz: ${sent} requests over ${operations.length} documented operations\nby status:\n${table(statuses)}\nby status and code:\n${table(codes)}\n`);
  expect(snapshotChanges(before, await snapshotDatabase(api.db.owner))).toEqual([]);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(sent).toBeGreaterThanOrEqual(10_000);
});
