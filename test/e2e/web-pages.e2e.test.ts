import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { signWebhook } from '../../api/payments/webhook-signature.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { decodeQr } from '../support/card-qr.ts';

/**
 * The web pages in a real browser (Debian's Chromium, headless, through playwright-core):
 * apply → the head approves in the inbox → the applicant's page updates without reload → pay
 * → card → verify. With WEB_SCREENSHOTS_DIR set, each page is photographed on a desktop and a
 * phone viewport (docs/images holds the ones the docs show).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.WEB_SCREENSHOTS_DIR;

let api: ApiHarness & { stop(): Promise<void> };
let browser: Browser;
let phone: BrowserContext;
let desktop: BrowserContext;
let esewa: string;

beforeAll(async () => {
  api = await startApiHarness({ paymentWindowMs: 600_000 });
  esewa = await api.webhookSecret('esewa');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'ne-NP' });
  desktop = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB' });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await api.stop();
});

const url = (p: string) => `${api.baseUrl}${p}`;
const shoot = async (page: Page, name: string) => {
  if (!SHOTS) return;
  // Both Devanagari weights loaded before the picture (the page swaps them in when they arrive).
  await page.evaluate(`Promise.all(['16px', '600 16px'].map((font) => document.fonts.load(font + ' "Sadasya Devanagari"', 'न'))).then(() => document.fonts.ready).then(() => true)`);
  await page.screenshot({ path: path.join(SHOTS, `web-${name}.png`), fullPage: true });
};
/** The same page on the other viewport, for the docs. */
async function shootBoth(page: Page, name: string, other: BrowserContext, prepare?: (page: Page) => Promise<void>) {
  await shoot(page, `${name}-${page.context() === phone ? 'phone' : 'desktop'}`);
  if (!SHOTS) return;
  const twin = await other.newPage();
  await twin.goto(page.url());
  await prepare?.(twin);
  await twin.waitForLoadState('networkidle');
  await shoot(twin, `${name}-${other === phone ? 'phone' : 'desktop'}`);
  await twin.close();
}

test('apply → the head approves in the inbox → the status page updates live → pay → card → verify', async () => {
  const slug = api.tenant.slug;
  const applicant = await phone.newPage();
  const errors: string[] = [];
  applicant.on('pageerror', (err) => errors.push(err.message));
  await applicant.goto(url(`/parties/${slug}/apply?lang=en`));
  await expectText(applicant, 'header h1', 'Apply for membership');

  // Sent empty: each field's error from the API's JSON:API errors stands next to that field.
  await applicant.click('button[type="submit"]');
  await applicant.locator('[data-error-for="fullNameEn"]').filter({ hasText: /\w/ }).waitFor();
  for (const field of ['fullNameEn', 'gender', 'phone', 'wardId', 'dateOfBirth']) {
    expect(await applicant.locator(`[data-error-for="${field}"]`).textContent()).toBe('Please fill this in.');
    expect(await applicant.getAttribute(`[name="${field}"]`, 'aria-invalid')).toBe('true');
  }
  expect(await applicant.locator('[data-error-for="email"]').textContent()).toBe('');
  // The declarations the law asks for, unticked, are refused beside them; the notice is shown in the page's language.
  expect(await applicant.locator('[data-error-for="consent"]').textContent()).toMatch(/must be true/);
  expect(await applicant.locator('#consentNotice').textContent()).toContain('Political Parties Act 2073');

  await applicant.fill('#fullNameEn', 'Sita Rai');
  await applicant.fill('#fullNameNe', 'सीता राई');
  await applicant.selectOption('#gender', 'F');
  await applicant.fill('#phone', '9841234567');
  await applicant.fill('#dateOfBirth', '1990-01-31');
  for (const declaration of ['nepaliCitizen', 'aged18OrOver', 'notGovernmentStaff', 'consentToProcessing']) await applicant.check(`[data-declaration="${declaration}"]`);
  await applicant.fill('#email', `${randomUUID()}@example.np`);
  await applicant.fill('#email', 'not an email');
  // Province → district → local level → ward, each list loaded from /api/geography.
  await applicant.selectOption('#province', api.geo.provinceId);
  await applicant.locator(`#district option[value="${api.geo.districtId}"]`).waitFor({ state: 'attached' });
  await applicant.selectOption('#district', api.geo.districtId);
  await applicant.locator(`#localLevel option[value="${api.geo.localLevelId}"]`).waitFor({ state: 'attached' });
  await applicant.selectOption('#localLevel', api.geo.localLevelId);
  await applicant.locator(`#wardId option[value="${api.geo.wardIds[1]}"]`).waitFor({ state: 'attached' });
  expect(await applicant.locator('#wardId option').allTextContents()).toEqual(['Choose…', 'Test Municipality Ward 1', 'Test Municipality Ward 2', 'Test Municipality Ward 3']);
  await applicant.selectOption('#wardId', api.geo.wardIds[1]!);
  await applicant.click('button[type="submit"]');
  await applicant.locator('[data-error-for="email"]').filter({ hasText: /\w/ }).waitFor();
  expect(await applicant.locator('[data-error-for="email"]').textContent()).toBe('Invalid email address');
  expect(await applicant.locator('[data-error-for="phone"]').textContent()).toBe('');
  await shootBoth(applicant, 'apply', desktop, async (twin) => {
    await twin.click('button[type="submit"]');
    await twin.locator('[data-error-for="fullNameEn"]').filter({ hasText: /\w/ }).waitFor();
  });
  await applicant.fill('#email', `${randomUUID()}@example.np`);
  await applicant.click('button[type="submit"]');

  // The status page, reached by the private link.
  await applicant.waitForURL(/\/parties\/[^/]+\/applications\/[0-9a-f-]+\?token=/);
  await applicant.locator('#status[data-status="awaiting_approval"]').waitFor();
  await applicant.locator('#live.on').waitFor();
  expect(await applicant.locator('#invoice').isHidden()).toBe(true);
  const memberId = new URL(applicant.url()).pathname.split('/')[4]!;
  await shootBoth(applicant, 'status-pending', desktop);

  // The committee head, on a desktop: log in, find the application, approve it with a note.
  const head = await desktop.newPage();
  head.on('pageerror', (err) => errors.push(err.message));
  await head.goto(url(`/parties/${slug}/inbox?lang=en`));
  await head.fill('#email', 'head@party.test');
  await head.fill('#password', 'wrong password');
  await head.click('#login button[type="submit"]');
  await expectText(head, '#login-error', 'The email or password is wrong.');
  await head.fill('#password', 'a long enough password');
  await head.click('#login button[type="submit"]');
  const row = head.locator(`li[data-member="${memberId}"]`);
  await row.waitFor();
  expect(await row.locator('.name').textContent()).toBe('Sita Rai');
  expect(await row.locator('.ward').textContent()).toBe('Test Municipality Ward 2');
  expect(await row.locator('.waited').textContent()).toMatch(/^waiting \d+ min$/);
  await shootBoth(head, 'inbox', phone, async (twin) => {
    await twin.fill('#email', 'head@party.test');
    await twin.fill('#password', 'a long enough password');
    await twin.click('#login button[type="submit"]');
    await twin.locator(`li[data-member="${memberId}"]`).waitFor();
  });
  await row.locator('.reject').click();
  await expectText(row, '.field-error', 'Write the reason for a rejection.');
  await row.locator('input[name="note"]').fill('Welcome to the party');
  await row.locator('.approve').click();
  await expectText(row, '.decided', 'Approved');

  // The applicant's page, never reloaded, now shows the invoice and how to pay it.
  await applicant.locator('#status[data-status="awaiting_payment"]').waitFor({ timeout: 30_000 });
  await applicant.locator('#invoice').waitFor({ state: 'visible' });
  expect(await applicant.locator('#amount').textContent()).toBe('Rs. 500.00');
  const reference = (await applicant.locator('#reference').textContent())!;
  expect(await applicant.locator('#ways li').allTextContents()).toEqual([
    'Online through esewa: give the reference above.',
    'In person at the party office: give the reference above; the treasurer records your payment.',
  ]);
  await shootBoth(applicant, 'status-invoice', desktop);

  // Paid through the provider (its signed webhook, naming the reference): the page shows the card.
  const raw = JSON.stringify({ memberId, invoiceId: reference, amount: 50_000, currency: 'NPR', reference: `esewa-${randomUUID()}`, paidAt: new Date().toISOString() });
  const paid = await fetch(url(`/api/parties/${slug}/payments/webhooks/esewa`), { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signWebhook(esewa, slug, 'esewa', raw) }, body: raw });
  expect(paid.status).toBe(200);
  await applicant.locator('#card').waitFor({ state: 'visible', timeout: 60_000 });
  await applicant.locator('#status[data-status="active"]').waitFor();
  expect(await applicant.locator('#number').textContent()).toMatch(/^TP/);
  expect(await applicant.locator('#invoice').isHidden()).toBe(true);

  // Switched to Nepali in place.
  await applicant.click('#language');
  await expectText(applicant, '#status', 'सक्रिय सदस्य');
  await expectText(applicant, 'header h1', 'मेरो आवेदन');
  // Devanagari drawn with the font the server sends, whatever the device has.
  expect(await applicant.evaluate(`document.fonts.ready.then((fonts) => [...fonts].some((face) => face.family.includes('Sadasya Devanagari') && face.status === 'loaded'))`)).toBe(true);
  await shootBoth(applicant, 'status-card', desktop);

  const pdf = await applicant.request.get(url((await applicant.getAttribute('#download', 'href'))!));
  expect([pdf.status(), pdf.headers()['content-type']]).toEqual([200, 'application/pdf']);
  const scanned = await decodeQr(await pdf.body());
  expect(scanned).toBeTruthy();

  // Verify the card: what its QR code holds, pasted (a token, or a verify URL carrying one).
  const checker = await phone.newPage();
  checker.on('pageerror', (err) => errors.push(err.message));
  await checker.goto(url('/verify?lang=en'));
  await checker.fill('#token', scanned!);
  await checker.click('button[type="submit"]');
  await checker.locator('#verdict[data-verdict="valid"]').waitFor();
  expect(await checker.locator('#verdict-title').textContent()).toBe('Valid');
  expect(await checker.locator('#v-number').textContent()).toBe(await applicant.locator('#number').textContent());
  await shootBoth(checker, 'verify', desktop, async (twin) => {
    await twin.fill('#token', scanned!);
    await twin.click('button[type="submit"]');
    await twin.locator('#verdict[data-verdict="valid"]').waitFor();
  });
  await checker.fill('#token', `${scanned!.slice(0, -4)}AAAA`);
  await checker.click('button[type="submit"]');
  await checker.locator('#verdict[data-verdict="badToken"]').waitFor();
  expect(await checker.locator('#verdict-title').textContent()).toBe('Not valid');

  // A mistyped link says so, in the reader's language.
  const stranger = await phone.newPage();
  await stranger.goto(url(`/parties/${slug}/applications/${memberId}?token=${'x'.repeat(32)}&lang=ne`));
  await expectText(stranger, '#missing', 'यो लिङ्क मान्य छैन। पूरा लिङ्क प्रतिलिपि गर्नुभयो कि जाँच्नुहोस्।');
  expect(errors).toEqual([]);
}, 240_000);

async function expectText(scope: Page | ReturnType<Page['locator']>, selector: string, text: string) {
  await scope.locator(selector).filter({ hasText: text }).waitFor({ timeout: 15_000 });
  expect((await scope.locator(selector).textContent())?.trim()).toBe(text);
}
