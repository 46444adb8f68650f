import { createHmac, randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { memberWorkflowId } from '../../src/members/lifecycle-contract.ts';
import { webhookHeaders } from '../support/webhooks.ts';
import { call, inParallel } from './support/api-client.ts';
import { API_READY, FAULT_STACK_UI_ORIGIN, startFaultStack, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, driveToPayment, register } from './support/lifecycles.ts';
import { awaitResults, memberOutcomes } from './support/outcomes.ts';
import { dumpEveryTable, findLeaks, needlesFor, pgDumpText, textsOf } from './support/plaintext.ts';
import { ELIGIBLE } from '../support/eligibility.ts';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../src/temporal/payload-codec.ts';
import { testMasterKey } from '../support/fixtures.ts';
import { payloadsIn, payloadsJson, payloadText, unsealedPayloads } from '../support/temporal-payloads.ts';

let stack: FaultStack;
/** The first test's first member, whose lifecycle the codec endpoint is tried on. */
let firstMember: { id: string; name: string } | undefined;
beforeAll(async () => {
  // trace: everything the worker and the API would ever log is in what this test searches.
  stack = await startFaultStack('plain', { logLevel: 'trace' });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

test('no phone number or email of any member, nor a webhook secret, in a full dump of the database, the worker and API logs, or Temporal; no name in Temporal either', async () => {
  const applicants = Array.from({ length: 6 }, (_, i) => applicant(i + 1, 3));
  const memberIds = await inParallel(applicants, 3, (a) => driveToPayment(stack, a));
  expect(await awaitResults(stack, memberIds)).toEqual(memberIds.map(() => 'CardIssued'));
  // Paths where a careless log line would carry contact data: a taken phone (refused, its holder
  // emailed), a search by phone, a bad phone.
  const [first] = applicants as [(typeof applicants)[0]];
  firstMember = { id: memberIds[0]!, name: `Applicant ${first.index}` };
  const again = await call(stack.apiUrl, 'POST', `/api/parties/${stack.party.tenant.slug}/applications`, {
    body: { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: 'Again', gender: 'F', phone: first.phoneNational, email: first.email, wardId: stack.party.geo.wardIds[1] } } },
  });
  expect(again.status).toBe(201);
  const refused = again.body.data.id as string;
  expect(await awaitResults(stack, [refused])).toEqual(['RegistrationRefused']);
  expect((await call(stack.apiUrl, 'GET', `/api/members?filter[phone]=${first.phoneNational}`, { token: stack.party.treasurerToken })).body.data).toHaveLength(1);
  expect((await call(stack.apiUrl, 'POST', `/api/parties/${stack.party.tenant.slug}/applications`, {
    body: { data: { type: 'applications', attributes: { ...ELIGIBLE, fullNameEn: 'Bad', gender: 'F', phone: `${first.phoneNational}99`, email: first.email, wardId: stack.party.geo.wardIds[1] } } },
  })).status).toBe(422);
  // A signed webhook (for no member: 404), so the API's trace log has seen one.
  const slug = stack.party.tenant.slug;
  const raw = JSON.stringify({ memberId: randomUUID(), invoiceId: randomUUID(), amount: 1, currency: 'NPR', reference: 'plain-1', paidAt: new Date().toISOString() });
  expect((await fetch(`${stack.apiUrl}/api/parties/${slug}/payments/webhooks/esewa`, { method: 'POST', headers: webhookHeaders(stack.party.webhookSecret, slug, 'esewa', raw), body: raw })).status).toBe(404);
  const pending = await register(stack, applicant(99, 3));
  await Promise.all([stack.worker.stop(), stack.api.stop()]);

  // The party's webhook secret is kept only wrapped: it must not be found either.
  const needles = [...[...applicants, applicant(99, 3)].flatMap((a) => needlesFor(a.phoneNational, a.email)), stack.party.webhookSecret];
  // Temporal holds no name either (the database does: search needs it): every payload is encrypted by the codec.
  const temporalNeedles = [...needles, ...[...applicants, applicant(99, 3)].map((a) => `Applicant ${a.index}`)];
  const pgDump = await pgDumpText(stack.postgres.adminUrl);
  const dump = await dumpEveryTable(stack.postgres.superuserUrl, stack.postgres.database);
  await writeFile(path.join(stack.dir, 'database-dump.jsonl'), dump.text);
  const logs = [...stack.worker.output, ...stack.api.output].join('\n');
  // Raw, as the Temporal UI and any Temporal client without the key read them: fetchHistory and the service's list answer decode nothing.
  const rawHistories = await Promise.all([...memberIds, pending, refused].map((id) => stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, id)).fetchHistory()));
  const histories = rawHistories.map((history) => textsOf(history).join('\n'));
  const payloads = rawHistories.flatMap((history) => payloadsIn(history.events));
  // Visibility: every lifecycle's memo and search attributes as the service lists them.
  const visibility = textsOf(await stack.client.workflowService.listWorkflowExecutions({ namespace: 'default', query: `TenantId = '${stack.party.tenant.id}'`, pageSize: 1000 })).join('\n');
  const sqliteFiles = (await readdir(stack.dir)).filter((name) => name.startsWith('temporal.sqlite'));
  const temporalStore = (await Promise.all(sqliteFiles.map((name) => readFile(path.join(stack.dir, name))))).map((b) => b.toString('latin1')).join('\n');

  const report = {
    members: memberIds.length + 1, needlesPerMember: needlesFor(first.phoneNational, first.email),
    pgDumpBytes: pgDump.length,
    superuserDump: { bytes: dump.text.length, rowsPerTable: dump.tables }, logLines: logs.split('\n').length,
    historyBytes: histories.join('').length, temporalSqliteBytes: temporalStore.length, visibilityBytes: visibility.length,
    historyPayloads: Object.fromEntries([...new Set(payloads.map((p) => p.encoding))].map((e) => [e, payloads.filter((p) => p.encoding === e).length])),
  };
  console.log(`no plaintext: ${JSON.stringify(report, null, 2)}`);

  // Controls: each haystack holds what it should, so finding nothing means something.
  expect(dump.tables.members).toBe(memberIds.length + 1);
  expect(dump.text).toContain(`Applicant ${first.index}`);
  expect(pgDump).toContain(`Applicant ${first.index}`);
  expect(pgDump).toContain('COPY public.members');
  expect(logs).toContain('"msg":"worker started"');
  for (const id of memberIds) expect(logs).toContain(id);
  expect(histories.every((h) => h.includes('memberLifecycle'))).toBe(true);
  expect(visibility).toContain(memberIds[0]!);
  // Every payload but the indexed search attributes and the SDK's patch and local-activity markers is ciphertext.
  expect(payloads.filter((p) => p.encoding === 'binary/encrypted').length).toBeGreaterThan(memberIds.length * 10);
  expect(unsealedPayloads(payloads)).toEqual([]);
  expect(temporalStore).toContain(memberIds[0]!);
  expect(findLeaks(`${dump.text} ${first.phoneNational}`, needles)).not.toEqual([]);

  expect({
    pgDump: findLeaks(pgDump, needles),
    database: findLeaks(dump.text, needles),
    logs: findLeaks(logs, needles),
    workflowHistories: findLeaks(histories.join('\n'), temporalNeedles),
    temporalVisibility: findLeaks(visibility, temporalNeedles),
    temporalSqlite: findLeaks(temporalStore, temporalNeedles),
  }).toEqual({ pgDump: [], database: [], logs: [], workflowHistories: [], temporalVisibility: [], temporalSqlite: [] });
}, 600_000);

/** The data of every payload of a codec server answer, as text. */
const decodedTexts = (answer: ReturnType<typeof payloadsJson>) => answer.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n');

test('the codec endpoint on the ops listener decodes Temporal payloads for a holder of the platform key only, refuses a payload under another key, and answers the Temporal UI origin alone', async () => {
  if (!firstMember) throw new Error('the first test did not drive its lifecycles');
  await stack.api.start(API_READY);
  const history = await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, firstMember.id)).fetchHistory();
  const sealed = payloadsIn(history.events).filter((p) => p.encoding === 'binary/encrypted').map((p) => p.payload);
  const body = JSON.stringify(payloadsJson(sealed));
  const post = (path: string, headers: Record<string, string>, content = body) =>
    fetch(`${stack.opsUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: content });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}`, 'x-namespace': 'default' });
  // Registration records the application before the lifecycle starts, so no name travels through
  // Temporal at all; what the history holds of the member is their party's number for them.
  const memberNumber = (await memberOutcomes(stack)).find((m) => m.id === firstMember!.id)?.memberNumber;
  expect(memberNumber).toEqual(expect.stringMatching(/^[A-Z]+-\d{4}-/));

  // No credential, a wrong one, the party's own webhook secret: 401, and nothing decoded.
  for (const headers of [{}, bearer('not-the-key-not-the-key-not-the-key'), bearer(stack.party.webhookSecret)]) {
    const refused = await post('/codec/decode', headers);
    const text = await refused.text();
    expect([refused.status, text.includes(memberNumber!), text.includes('json/plain')]).toEqual([401, false, false]);
  }
  // The platform key: every payload back as it was written, the member's number among them.
  const decoded = await post('/codec/decode', bearer(stack.secrets.platformAdminKey));
  expect(decoded.status).toBe(200);
  const { payloads } = (await decoded.json()) as ReturnType<typeof payloadsJson>;
  expect(payloads).toHaveLength(sealed.length);
  expect(payloads.filter((p) => Buffer.from(p.metadata['encoding'] ?? '', 'base64').toString() === 'binary/encrypted')).toEqual([]);
  expect(decodedTexts({ payloads })).toContain(memberNumber);

  // A payload sealed under another master key: 422 naming the payload and the key, nothing else answered.
  const foreign = new EncryptionCodec(testMasterKey());
  const [alien] = await foreign.encode([defaultPayloadConverter.toPayload({ fullNameEn: 'Someone Else' })]);
  const wrongKey = await post('/codec/decode', bearer(stack.secrets.platformAdminKey), JSON.stringify(payloadsJson([sealed[0]!, alien!])));
  const wrongKeyText = await wrongKey.text();
  expect(wrongKey.status).toBe(422);
  expect(wrongKeyText).toContain(`payloads/1: the payload was encrypted with key ${foreign.keyId}, which this process does not hold`);
  expect([wrongKeyText.includes('Someone Else'), wrongKeyText.includes(memberNumber!)]).toEqual([false, false]);
  // Not a payloads body: 422 naming the field.
  const malformed = await post('/codec/decode', bearer(stack.secrets.platformAdminKey), JSON.stringify({ payloads: [{ data: 'not base64!' }] }));
  expect([malformed.status, await malformed.text()]).toEqual([422, expect.stringContaining('payloads.0.data')]);

  // Encode, the UI's way to send a signal: what it seals decodes back.
  const plain = defaultPayloadConverter.toPayload({ by: 'operator:ops', note: 'approved from the Temporal UI' });
  const encoded = (await (await post('/codec/encode', bearer(stack.secrets.platformAdminKey), JSON.stringify(payloadsJson([plain])))).json()) as ReturnType<typeof payloadsJson>;
  const encodedPayload = { metadata: Object.fromEntries(Object.entries(encoded.payloads[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(encoded.payloads[0]!.data, 'base64') };
  expect(Buffer.from(encodedPayload.metadata['encoding']!).toString()).toBe('binary/encrypted');
  expect(payloadText((await stack.codec.decode([encodedPayload]))[0]!)).toBe(payloadText(plain));
  expect((await post('/codec/encode', {}, JSON.stringify(payloadsJson([plain])))).status).toBe(401);

  // CORS: the configured Temporal UI origin's preflight is answered for POST with the bearer token; another origin gets no grant.
  const preflight = (origin: string) => fetch(`${stack.opsUrl}/codec/decode`, {
    method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' },
  });
  const ui = await preflight(FAULT_STACK_UI_ORIGIN);
  expect([ui.status, ui.headers.get('access-control-allow-origin'), ui.headers.get('access-control-allow-headers')])
    .toEqual([204, FAULT_STACK_UI_ORIGIN, 'authorization, content-type, x-namespace']);
  const other = await preflight('http://elsewhere.example');
  expect([other.status, other.headers.get('access-control-allow-origin')]).toEqual([204, null]);
  const fromUi = await post('/codec/decode', { ...bearer(stack.secrets.platformAdminKey), origin: FAULT_STACK_UI_ORIGIN });
  expect([fromUi.status, fromUi.headers.get('access-control-allow-origin')]).toEqual([200, FAULT_STACK_UI_ORIGIN]);
  const fromElsewhere = await post('/codec/decode', { origin: 'http://elsewhere.example' });
  expect([fromElsewhere.status, fromElsewhere.headers.get('access-control-allow-origin')]).toEqual([401, null]);

  // The browser's way (the UI sends cookies with TEMPORAL_CODEC_INCLUDE_CREDENTIALS): sign in with the key at /codec/login.
  const loginPage = await fetch(`${stack.opsUrl}/codec/login`);
  expect([loginPage.status, await loginPage.text()]).toEqual([200, expect.stringContaining('<form method="post" action="/codec/login">')]);
  const login = (key: string) => fetch(`${stack.opsUrl}/codec/login`, { method: 'POST', body: new URLSearchParams({ key }), redirect: 'manual' });
  const badLogin = await login('not-the-key-not-the-key-not-the-key');
  expect([badLogin.status, badLogin.headers.get('set-cookie')]).toEqual([401, null]);
  const goodLogin = await login(stack.secrets.platformAdminKey);
  const cookie = goodLogin.headers.get('set-cookie') ?? '';
  expect(goodLogin.status).toBe(200);
  expect(cookie).toMatch(/^sadasya-codec=\d+\.[\w-]+; Max-Age=28800; Path=\/codec; Expires=.+; HttpOnly; SameSite=Strict$/);
  const session = cookie.split(';')[0]!;
  const withCookie = await post('/codec/decode', { cookie: session, origin: FAULT_STACK_UI_ORIGIN });
  expect([withCookie.status, withCookie.headers.get('access-control-allow-origin'), withCookie.headers.get('access-control-allow-credentials')]).toEqual([200, FAULT_STACK_UI_ORIGIN, 'true']);
  expect(decodedTexts((await withCookie.json()) as ReturnType<typeof payloadsJson>)).toContain(memberNumber);
  // A sign-in whose expiry was moved, or one that has expired (made with the key, as only the server could), is refused.
  const [expires, mac] = session.slice('sadasya-codec='.length).split('.') as [string, string];
  const pastExpiry = Math.floor(Date.now() / 1000) - 1;
  const expired = `${pastExpiry}.${createHmac('sha256', stack.secrets.platformAdminKey).update(`sadasya codec session|${pastExpiry}`).digest('base64url')}`;
  for (const forged of [`${Number(expires) + 3600}.${mac}`, expired, `${expires}.${mac.slice(1)}`]) {
    expect((await post('/codec/decode', { cookie: `sadasya-codec=${forged}` })).status).toBe(401);
  }
  const logout = await fetch(`${stack.opsUrl}/codec/logout`, { method: 'POST', headers: { cookie: session } });
  expect(logout.headers.get('set-cookie')).toMatch(/^sadasya-codec=; Path=\/codec; Expires=Thu, 01 Jan 1970/);
}, 120_000);
