import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { memberWorkflowId } from '../../src/members/lifecycle-contract.ts';
import { webhookHeaders } from '../support/webhooks.ts';
import { call, inParallel } from './support/api-client.ts';
import { startFaultStack, type FaultStack } from './support/fault-stack.ts';
import { abandonDriving, applicant, driveToPayment, register } from './support/lifecycles.ts';
import { awaitResults } from './support/outcomes.ts';
import { dumpEveryTable, findLeaks, needlesFor, pgDumpText, textsOf } from './support/plaintext.ts';
import { ELIGIBLE } from '../support/eligibility.ts';

let stack: FaultStack;
beforeAll(async () => {
  // trace: everything the worker and the API would ever log is in what this test searches.
  stack = await startFaultStack('plain', { logLevel: 'trace' });
}, 120_000);
afterAll(async () => {
  abandonDriving();
  await stack?.close();
});

test('no phone number or email of any member, nor a webhook secret, in a full dump of the database, the worker and API logs, or Temporal', async () => {
  const applicants = Array.from({ length: 6 }, (_, i) => applicant(i + 1, 3));
  const memberIds = await inParallel(applicants, 3, (a) => driveToPayment(stack, a));
  expect(await awaitResults(stack, memberIds)).toEqual(memberIds.map(() => 'CardIssued'));
  // Paths where a careless log line would carry contact data: a taken phone (refused, its holder
  // emailed), a search by phone, a bad phone.
  const [first] = applicants as [(typeof applicants)[0]];
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
  const pgDump = await pgDumpText(stack.postgres.adminUrl);
  const dump = await dumpEveryTable(stack.postgres.superuserUrl, stack.postgres.database);
  await writeFile(path.join(stack.dir, 'database-dump.jsonl'), dump.text);
  const logs = [...stack.worker.output, ...stack.api.output].join('\n');
  const histories = await Promise.all([...memberIds, pending, refused].map(async (id) =>
    textsOf(await stack.client.workflow.getHandle(memberWorkflowId(stack.party.tenant.id, id)).fetchHistory()).join('\n')));
  const sqliteFiles = (await readdir(stack.dir)).filter((name) => name.startsWith('temporal.sqlite'));
  const temporalStore = (await Promise.all(sqliteFiles.map((name) => readFile(path.join(stack.dir, name))))).map((b) => b.toString('latin1')).join('\n');

  const report = {
    members: memberIds.length + 1, needlesPerMember: needlesFor(first.phoneNational, first.email),
    pgDumpBytes: pgDump.length,
    superuserDump: { bytes: dump.text.length, rowsPerTable: dump.tables }, logLines: logs.split('\n').length,
    historyBytes: histories.join('').length, temporalSqliteBytes: temporalStore.length,
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
  expect(temporalStore).toContain(memberIds[0]!);
  expect(findLeaks(`${dump.text} ${first.phoneNational}`, needles)).not.toEqual([]);

  expect({
    pgDump: findLeaks(pgDump, needles),
    database: findLeaks(dump.text, needles),
    logs: findLeaks(logs, needles),
    workflowHistories: findLeaks(histories.join('\n'), needles),
    temporalSqlite: findLeaks(temporalStore, needles),
  }).toEqual({ pgDump: [], database: [], logs: [], workflowHistories: [], temporalSqlite: [] });
}, 600_000);
