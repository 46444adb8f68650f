import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import express from 'express';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ApplicationSchema } from '../../src/members/application.ts';
import { registerApplicant, sendLifecycleUpdate, type Registered } from '../../src/members/lifecycle-client.ts';
import { projectRoot } from '../../src/paths.ts';
import * as m from '../../src/members/lifecycle-contract.ts';
import { startLifecycleHarness, type LifecycleHarness } from '../support/lifecycle-harness.ts';
import { codecRoutes } from '../../api/codec-server.ts';
import { errorHandler } from '../../api/http/errors.ts';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The docs' screenshot is refreshed on request (UPDATE_DOCS_IMAGES=1); a normal run leaves the tree clean.
const SCREENSHOT = process.env.UPDATE_DOCS_IMAGES === '1'
  ? path.join(projectRoot, 'docs', 'images', 'temporal-ui-awaiting-approval.png')
  : path.join(process.env.TEST_TMP_DIR ?? '/tmp', 'temporal-ui-awaiting-approval.png');
const UI_TIMEOUT_MS = 30_000;

let h: LifecycleHarness | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let browser: Browser | undefined;
let phoneSeq = 0;

function uiUrl(): string {
  const url = process.env.TEST_TEMPORAL_UI_URL;
  if (!url) throw new Error('TEST_TEMPORAL_UI_URL is not set: e2e tests run under test/support/global-setup.ts');
  return url;
}

async function register(harness: LifecycleHarness): Promise<Registered> {
  const application = ApplicationSchema.parse({
    fullNameEn: 'Ram Thapa', fullNameNe: 'राम थापा', gender: 'M',
    phone: `98${String(50_000_000 + ++phoneSeq)}`, email: `ui-applicant${phoneSeq}@example.np`, wardId: harness.geo.wardIds[1],
  });
  return registerApplicant({ client: harness.client, pool: harness.db.app, keyring: harness.keyring }, harness.tenant.id, application);
}

/** The UI reads visibility, which trails the workflow by a moment: wait until it agrees. */
async function visibleInStage(harness: LifecycleHarness, workflowId: string, stage: m.MemberStageName): Promise<void> {
  const query = `WorkflowId = '${workflowId}' AND MemberStage = '${stage}'`;
  for (let i = 0; i < 100; i++) {
    if ((await harness.client.workflow.count(query)).count === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`visibility never showed ${workflowId} in stage ${stage}`);
}

async function openWorkflowsFiltered(page: Page, query: string): Promise<void> {
  await page.goto(`${uiUrl()}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
}

const workflowLink = (page: Page, workflowId: string) => page.getByRole('link', { name: workflowId, exact: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary.`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  h = await startLifecycleHarness();
  ({ worker, running } = await h.startWorker());
});

afterAll(async () => {
  await browser?.close();
  worker?.shutdown();
  await running;
  await h?.close();
});

test('ops find a lifecycle awaiting approval by filtering on MemberStage in the Temporal Web UI', async () => {
  const harness = h!;
  const waiting = await register(harness);
  expect(waiting.stage).toBe('AwaitingApproval');
  const rejected = await register(harness);
  await sendLifecycleUpdate(harness.client, rejected.workflowId, m.rejectUpdate, { by: `user:${harness.headUserId}`, reason: 'not resident in the ward' });
  await visibleInStage(harness, waiting.workflowId, 'AwaitingApproval');
  await visibleInStage(harness, rejected.workflowId, 'Rejected');

  const page = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);

  await openWorkflowsFiltered(page, 'MemberStage = "Rejected"');
  await expect(workflowLink(page, rejected.workflowId).waitFor()).resolves.toBeUndefined();
  expect(await workflowLink(page, waiting.workflowId).count()).toBe(0);

  await openWorkflowsFiltered(page, 'MemberStage = "AwaitingApproval"');
  await expect(workflowLink(page, waiting.workflowId).waitFor()).resolves.toBeUndefined();
  expect(await workflowLink(page, rejected.workflowId).count()).toBe(0);
  await page.screenshot({ path: SCREENSHOT });
});

/** The API's codec routes on a port of their own, over the harness's codec, answering the UI's origin. */
async function serveCodec(harness: LifecycleHarness, platformAdminKey: string): Promise<{ endpoint: string; server: Server }> {
  const app = express();
  app.use(codecRoutes({ codec: harness.codec, platformAdminKey, uiOrigin: new URL(uiUrl()).origin }));
  app.use(errorHandler({ error: () => undefined }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  return { endpoint: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/codec`, server };
}

test('the Temporal Web UI shows a lifecycle\'s payloads decoded only in a browser signed in at the codec endpoint', async () => {
  const harness = h!;
  const waiting = await register(harness);
  const key = randomBytes(24).toString('hex');
  const codec = await serveCodec(harness, key);
  const ENCRYPTED = Buffer.from('binary/encrypted').toString('base64');
  const decodedInput = `"tenantId": "${harness.tenant.id}"`;
  try {
    /** The lifecycle's page in the UI as one browser sees it, the UI's codec settings made as an operator makes them once. */
    const pageText = async (signIn: boolean) => {
      const context = await browser!.newContext({ viewport: { width: 1440, height: 900 } });
      try {
        // The endpoint, and "Include cross-origin credentials": the browser sends its codec sign-in cookie.
        await context.addInitScript((endpoint) => {
          localStorage.setItem('endpoint', JSON.stringify(endpoint));
          localStorage.setItem('includeCredentials', 'true');
          localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
        }, codec.endpoint);
        const page = await context.newPage();
        page.setDefaultTimeout(UI_TIMEOUT_MS);
        if (signIn) {
          await page.goto(`${codec.endpoint}/login`);
          await page.fill('input[name=key]', key);
          await Promise.all([page.waitForURL(`${codec.endpoint}/login`), page.getByRole('button', { name: 'Sign in' }).click()]);
          expect(await page.locator('body').innerText()).toMatch(/^signed in until /);
        }
        await page.goto(`${uiUrl()}/namespaces/default/workflows/${encodeURIComponent(waiting.workflowId)}`);
        await page.getByText(signIn ? decodedInput : ENCRYPTED).first().waitFor();
        return await page.locator('body').innerText();
      } finally {
        await context.close();
      }
    };
    const anonymous = await pageText(false);
    expect([anonymous.includes('Codec Server could not connect'), anonymous.includes(ENCRYPTED), anonymous.includes(decodedInput)]).toEqual([true, true, false]);
    const signedIn = await pageText(true);
    expect([signedIn.includes('Codec Server could not connect'), signedIn.includes(ENCRYPTED), signedIn.includes(decodedInput)]).toEqual([false, false, true]);
  } finally {
    codec.server.close();
  }
}, 120_000);
