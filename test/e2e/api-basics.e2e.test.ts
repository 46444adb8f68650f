import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validate } from '@readme/openapi-parser';
import { jest } from '@jest/globals';
import { createApp } from '../../api/app.ts';
import { passwordCheck } from '../../src/users/users.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { forgedSignature } from '../support/token-spellings.ts';

let api: ApiHarness & { stop(): Promise<void> };

beforeAll(async () => {
  api = await startApiHarness();
});
afterAll(() => api.stop());

const login = (attributes: Record<string, unknown>) => api.request('POST', '/api/auth/login', { body: { data: { type: 'sessions', attributes } } });

test('a user logs in and gets a short-lived bearer token', async () => {
  const res = await login({ tenant: api.tenant.slug, email: 'head@party.test', password: 'a long enough password' });
  expect(res.status).toBe(201);
  expect(res.headers.get('content-type')).toContain('application/vnd.api+json');
  expect(res.body.data.attributes.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  const minutes = (Date.parse(res.body.data.attributes.expiresAt) - Date.now()) / 60_000;
  expect(minutes).toBeGreaterThan(10);
  expect(minutes).toBeLessThanOrEqual(15);
});

test.each([
  ['a wrong password', { tenant: 'x', email: 'head@party.test', password: 'wrong' }],
  ['an unknown party', { tenant: 'no-such-party', email: 'head@party.test', password: 'a long enough password' }],
])('%s answers 401 without saying which part was wrong', async (_name, attributes) => {
  const res = await login({ ...attributes, tenant: attributes.tenant === 'x' ? api.tenant.slug : attributes.tenant });
  expect(res.status).toBe(401);
  expect(res.body.errors[0]).toMatchObject({ status: '401', code: 'INVALID_CREDENTIALS' });
});

test('bad input names the field with a JSON pointer', async () => {
  const res = await login({ tenant: api.tenant.slug, email: 5 });
  expect(res.status).toBe(422);
  const pointers = res.body.errors.map((e: { source: { pointer: string } }) => e.source.pointer);
  expect(pointers).toEqual(expect.arrayContaining(['/data/attributes/email', '/data/attributes/password']));
});

test('malformed JSON is a 400, not a 500, and carries no stack trace', async () => {
  const res = await api.request('POST', '/api/auth/login', { raw: '{"data": ' });
  expect(res.status).toBe(400);
  expect(res.body.errors[0].code).toBe('MALFORMED_JSON');
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
});

test('a body that is not JSON is refused with 415', async () => {
  const res = await api.request('POST', '/api/auth/login', { raw: 'tenant=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(res.status).toBe(415);
  expect(res.body.errors[0].code).toBe('UNSUPPORTED_MEDIA_TYPE');
});

test('an oversized body is refused with 413', async () => {
  const res = await api.request('POST', '/api/auth/login', { raw: JSON.stringify({ data: { type: 'sessions', attributes: { pad: 'x'.repeat(100_000) } } }) });
  expect(res.status).toBe(413);
  expect(res.body.errors[0].code).toBe('PAYLOAD_TOO_LARGE');
});

test('an unknown route is a JSON:API 404', async () => {
  const res = await api.request('GET', '/api/nothing-here');
  expect(res.status).toBe(404);
  expect(res.body.errors[0].code).toBe('ROUTE_NOT_FOUND');
});

test('a path served by other methods answers 405 naming them; OPTIONS lists them', async () => {
  for (const method of ['PUT', 'DELETE']) {
    const res = await api.request(method, '/api/auth/login');
    expect([method, res.status, res.headers.get('allow'), res.body.errors[0]?.code]).toEqual([method, 405, 'POST, OPTIONS', 'METHOD_NOT_ALLOWED']);
  }
  // fetch will not send TRACE; node:http will.
  const trace = await new Promise<{ status?: number; allow?: string }>((resolve, reject) => {
    request(`${api.baseUrl}/api/auth/login`, { method: 'TRACE' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, allow: res.headers.allow }));
    }).on('error', reject).end();
  });
  expect(trace).toEqual({ status: 405, allow: 'POST, OPTIONS' });
  const options = await api.request('OPTIONS', `/api/members/${crypto.randomUUID()}`);
  expect([options.status, options.headers.get('allow')]).toEqual([204, 'GET, HEAD, OPTIONS']);
});

test('the document says how query objects are sent, what a date may be, and what an error source may name', async () => {
  const document = (await api.request('GET', '/openapi.json')).body;
  const search = document.paths['/api/members'].get.parameters as { name: string; style?: string; explode?: boolean }[];
  for (const name of ['filter', 'page']) expect(search.find((p) => p.name === name)).toMatchObject({ style: 'deepObject', explode: true });
  const payment = document.paths['/api/members/{id}/payments'].post.requestBody.content['application/vnd.api+json'].schema;
  const paidAt = new RegExp(payment.properties.data.properties.attributes.properties.paidAt.pattern as string);
  expect(['2026-05-01T10:15:00Z', '0020-05-01T10:15:00Z'].map((v) => paidAt.test(v))).toEqual([true, false]);
  const errors = document.paths['/api/members'].get.responses.default.content['application/vnd.api+json'].schema;
  expect(Object.keys(errors.properties.errors.items.properties.source.properties).sort()).toEqual(['header', 'parameter', 'pointer']);
  const idempotency = document.paths['/api/parties/{slug}/applications'].post.parameters.find((p: { in: string }) => p.in === 'header');
  expect(idempotency).toMatchObject({ name: 'idempotency-key', in: 'header' });
  expect(idempotency.required ?? false).toBe(false);
});

test('a route that needs a user refuses a missing or forged token with 401', async () => {
  const forged = forgedSignature((await api.userWithToken()).token);
  for (const token of [undefined, forged]) {
    const res = await api.request('GET', `/api/members/${crypto.randomUUID()}`, token ? { token } : {});
    expect([res.status, res.body]).toEqual([401, expect.anything()]);
  }
});

test('the OpenAPI document validates and Swagger UI is served at /docs', async () => {
  const doc = await api.request('GET', '/openapi.json');
  expect(doc.status).toBe(200);
  const result = await validate(structuredClone(doc.body));
  expect(result.valid ? [] : result.errors).toEqual([]);
  expect(doc.body.openapi).toBe('3.1.0');
  const ui = await fetch(`${api.baseUrl}/docs/`);
  expect(ui.status).toBe(200);
  expect(await ui.text()).toContain('swagger-ui');
});

test('/metrics is not served on the public listener', async () => {
  const res = await fetch(`${api.baseUrl}/metrics`);
  expect(res.status).toBe(404);
  expect(await res.text()).not.toContain('process_cpu_user_seconds_total');
});

test('/metrics serves Prometheus text on the private ops listener, counting the public API', async () => {
  const res = await fetch(`${api.opsUrl}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toContain('process_cpu_user_seconds_total');
  expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/api\/auth\/login",status="201"\} [1-9]/);
});

/** Runs `work` against an app built with these deps, on its own port. */
async function withApp(overrides: Partial<typeof api.apiDeps>, work: (base: string) => Promise<void>): Promise<void> {
  const server = createApp({ ...api.apiDeps, ...overrides }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await work(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.close();
  }
}

const statusLookups = async (base: string, forwardedFor: (i: number) => string | undefined): Promise<number[]> => {
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const client = forwardedFor(i);
    const res = await fetch(`${base}/api/parties/${api.tenant.slug}/applications/${crypto.randomUUID()}?token=${'t'.repeat(20)}`, { headers: client ? { 'x-forwarded-for': client } : {} });
    statuses.push(res.status);
    if (res.status === 429) expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('RATE_LIMITED');
  }
  return statuses;
};

test('public endpoints are rate limited per client with 429', async () => {
  await withApp({ publicRateLimit: 3 }, async (base) => {
    expect(await statusLookups(base, () => undefined)).toEqual([404, 404, 404, 429, 429]);
  });
});

test('registrations have their own budget per address, apart from status links, logins and card checks', async () => {
  await withApp({ publicRateLimit: 3, registrationRateLimit: 5 }, async (base) => {
    const apply = () => fetch(`${base}/api/parties/${api.tenant.slug}/applications`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.api+json' }, body: JSON.stringify({ data: { type: 'applications', attributes: {} } }),
    }).then((res) => res.status);
    const registrations: number[] = [];
    for (let i = 0; i < 6; i++) registrations.push(await apply());
    expect(registrations).toEqual([422, 422, 422, 422, 422, 429]);
    expect(await statusLookups(base, () => undefined)).toEqual([404, 404, 404, 429, 429]);
  });
});

test('behind a trusted proxy each forwarded client has its own bucket; with none trusted, a forged header buys nothing', async () => {
  await withApp({ publicRateLimit: 3, trustedProxies: 'loopback' }, async (base) => {
    expect(await statusLookups(base, (i) => `203.0.113.${i + 1}`)).toEqual([404, 404, 404, 404, 404]);
  });
  await withApp({ publicRateLimit: 3, trustedProxies: 'none' }, async (base) => {
    expect(await statusLookups(base, (i) => `203.0.113.${i + 1}`)).toEqual([404, 404, 404, 429, 429]);
  });
});

test('a login for an unknown email or party checks a password just as a real one does', async () => {
  const checks = jest.spyOn(passwordCheck, 'verify');
  try {
    for (const attributes of [
      { tenant: api.tenant.slug, email: 'head@party.test', password: 'wrong password here' },
      { tenant: api.tenant.slug, email: 'nobody@party.test', password: 'wrong password here' },
      { tenant: 'no-such-party', email: 'head@party.test', password: 'wrong password here' },
    ]) {
      checks.mockClear();
      const res = await login(attributes);
      expect([attributes.email, attributes.tenant, res.status, checks.mock.calls.length]).toEqual([attributes.email, attributes.tenant, 401, 1]);
    }
  } finally {
    checks.mockRestore();
  }
});

test('failed logins are limited per account and address, and per account from all addresses; other accounts are not', async () => {
  await withApp({ failedLoginsPerAccount: 3 }, async (base) => {
    const attempt = (email: string, password: string, client: number) => fetch(`${base}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.api+json', 'x-forwarded-for': `198.51.100.${client}` },
      body: JSON.stringify({ data: { type: 'sessions', attributes: { tenant: api.tenant.slug, email, password } } }),
    }).then((res) => res.status);
    const guesses = [];
    for (let i = 0; i < 4; i++) guesses.push(await attempt('head@party.test', `guess number ${i}`, i));
    expect(guesses).toEqual([401, 401, 401, 429]);
    expect(await attempt('HEAD@party.test', 'a long enough password', 9)).toBe(429);
    expect(await attempt('someone-else@party.test', 'guess number 0', 1)).toBe(401);
  });
  await withApp({ failedLoginsPerAddress: 2 }, async (base) => {
    const attempt = (client: number) => fetch(`${base}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.api+json', 'x-forwarded-for': `198.51.100.${client}` },
      body: JSON.stringify({ data: { type: 'sessions', attributes: { tenant: api.tenant.slug, email: 'head@party.test', password: 'a wrong guess' } } }),
    }).then((res) => res.status);
    expect([await attempt(1), await attempt(1), await attempt(1), await attempt(2)]).toEqual([401, 401, 429, 401]);
  });
});
