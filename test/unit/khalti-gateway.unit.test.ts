import { GatewayDataError, GatewayRefusedError, GatewayUnavailableError } from '../../src/payments/gateways/gateway.ts';
import {
  initiateKhaltiPayment,
  KHALTI_SANDBOX_BASE_URL,
  lookupKhaltiPayment,
  mapKhaltiStatus,
  readKhaltiCallback,
  type KhaltiInitiateInput,
  type KhaltiMerchant,
} from '../../src/payments/gateways/khalti.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';
import { KHALTI_SIMULATOR_SECRET_KEY } from '../../src/payments/gateways/simulators/khalti-simulator.ts';

interface Seen {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
}

/** A fetch answering one documented body, remembering what was asked. */
function answering(status: number, body: string): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fake: typeof fetch = (input, init) => {
    seen.push({
      url: input instanceof Request ? input.url : input.toString(),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : null,
    });
    return Promise.resolve(new Response(body, { status, headers: { 'Content-Type': 'application/json' } }));
  };
  return { fetch: fake, seen };
}

const DOC_MERCHANT: KhaltiMerchant = { secretKey: 'live_secret_key_68791341fdd94846a146f0457ff7b455' };
const INPUT: KhaltiInitiateInput = {
  amountPaisa: 1300,
  purchaseOrderId: 'test12',
  purchaseOrderName: 'test',
  returnUrl: 'https://example.com/payment/',
  websiteUrl: 'https://example.com/',
};

describe('Khalti documentation vectors (docs.khalti.com/khalti-epayment, KPG-2)', () => {
  test('initiate sends the documented request and reads the documented answer', async () => {
    const http = answering(
      200,
      '{"pidx": "bZQLD9wRVWo4CdESSfuSsB", "payment_url": "https://test-pay.khalti.com/?pidx=bZQLD9wRVWo4CdESSfuSsB", "expires_at": "2023-05-25T16:26:16.471649+05:45", "expires_in": 1800}',
    );
    const initiated = await initiateKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, INPUT, { fetch: http.fetch });
    expect(initiated).toMatchObject({ pidx: 'bZQLD9wRVWo4CdESSfuSsB', paymentUrl: 'https://test-pay.khalti.com/?pidx=bZQLD9wRVWo4CdESSfuSsB', expiresIn: 1800 });
    expect(initiated.expiresAt.toISOString()).toBe('2023-05-25T10:41:16.471Z');
    const [request] = http.seen;
    expect(request?.url).toBe('https://dev.khalti.com/api/v2/epayment/initiate/');
    expect(request?.method).toBe('POST');
    expect(request?.headers.get('authorization')).toBe('Key live_secret_key_68791341fdd94846a146f0457ff7b455');
    expect(request?.body).toEqual({ return_url: 'https://example.com/payment/', website_url: 'https://example.com/', amount: 1300, purchase_order_id: 'test12', purchase_order_name: 'test' });
  });

  test.each([
    ['Completed', 200, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Completed", "transaction_id": "GFq9PFS7b2iYvL8Lir9oXe", "fee": 0, "refunded": false}', 'complete', 'GFq9PFS7b2iYvL8Lir9oXe'],
    ['Pending', 200, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Pending", "transaction_id": null, "fee": 0, "refunded": false}', 'pending', null],
    ['Initiated', 200, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Initiated", "transaction_id": null, "fee": 0, "refunded": false}', 'pending', null],
    ['Refunded', 200, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Refunded", "transaction_id": "GFq9PFS7b2iYvL8Lir9oXe", "fee": 0, "refunded": true}', 'refunded', 'GFq9PFS7b2iYvL8Lir9oXe'],
    ['Expired', 400, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Expired", "transaction_id": null, "fee": 0, "refunded": false}', 'expired', null],
    ['User canceled', 400, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "User canceled", "transaction_id": null, "fee": 0, "refunded": false}', 'canceled', null],
    ['Partially Refunded', 200, '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Partially Refunded", "transaction_id": "GFq9PFS7b2iYvL8Lir9oXe", "fee": 0, "refunded": true}', 'partially_refunded', 'GFq9PFS7b2iYvL8Lir9oXe'],
  ])('the documented lookup answer %s (HTTP %d) maps to one state', async (status, httpStatus, body, state, transactionId) => {
    const http = answering(httpStatus, body);
    const verification = await lookupKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, 'HT6o6PEZRWFJ5ygavzHWd5', { fetch: http.fetch });
    expect(verification).toEqual({
      gateway: 'khalti',
      state,
      gatewayStatus: status,
      reference: 'HT6o6PEZRWFJ5ygavzHWd5',
      gatewayTransactionId: transactionId,
      amountPaisa: 1000,
      raw: JSON.parse(body) as unknown,
    });
    expect(http.seen[0]?.url).toBe('https://dev.khalti.com/api/v2/epayment/lookup/');
    expect(http.seen[0]?.body).toEqual({ pidx: 'HT6o6PEZRWFJ5ygavzHWd5' });
  });

  test('only Completed counts; both spellings of partial refunds are read; an undocumented status is held', () => {
    expect(mapKhaltiStatus('Completed')).toBe('complete');
    expect(mapKhaltiStatus('Partially refunded')).toBe('partially_refunded');
    expect(mapKhaltiStatus('Failed')).toBe('failed');
    expect(mapKhaltiStatus('completed')).toBe('ambiguous');
    expect(mapKhaltiStatus('Something new')).toBe('ambiguous');
  });

  test('the documented "Not found." for a pidx is a definite not_found', async () => {
    const http = answering(404, '{"detail": "Not found.", "error_key": "validation_error"}');
    expect(await lookupKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, 'HT6o6PEZRWFJ5ygavzHWd5', { fetch: http.fetch })).toMatchObject({ state: 'not_found', amountPaisa: null });
  });

  test('the documented authentication errors are refusals, not outages and not states', async () => {
    for (const body of ['{"detail": "Invalid token.", "status_code": 401}', '{"detail": "Authentication credentials were not provided.", "status_code": 401}']) {
      const lookup = lookupKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, 'HT6o6PEZRWFJ5ygavzHWd5', { fetch: answering(401, body).fetch });
      await expect(lookup).rejects.toBeInstanceOf(GatewayRefusedError);
      await expect(lookup).rejects.toMatchObject({ code: 'PAYMENT_GATEWAY_REFUSED', httpStatus: 401, retryable: false });
    }
  });

  test('the documented validation errors of initiate name Khalti’s field', async () => {
    const http = answering(400, '{"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."], "error_key": "validation_error"}');
    await expect(initiateKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, INPUT, { fetch: http.fetch })).rejects.toMatchObject({
      name: 'GatewayRefusedError',
      field: 'amount',
      message: expect.stringContaining('Amount should be greater than Rs. 10') as string,
    });
  });

  test('a lookup answer about another pidx, or with an amount that is not whole paisa, is not taken', async () => {
    for (const body of [
      '{"pidx": "OTHER", "total_amount": 1000, "status": "Completed", "transaction_id": "T", "fee": 0, "refunded": false}',
      '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000.5, "status": "Completed", "transaction_id": "T", "fee": 0, "refunded": false}',
      '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": "1000", "status": "Completed", "transaction_id": "T", "fee": 0, "refunded": false}',
      '{"pidx": "HT6o6PEZRWFJ5ygavzHWd5", "total_amount": 1000, "status": "Completed", "transaction_id": "T", "fee": 0, "refunded": false',
    ]) {
      await expect(lookupKhaltiPayment(DOC_MERCHANT, KHALTI_SANDBOX_BASE_URL, 'HT6o6PEZRWFJ5ygavzHWd5', { fetch: answering(200, body).fetch })).rejects.toMatchObject({
        name: 'GatewayUnavailableError',
        reason: 'bad_response',
      });
    }
  });

  test('the callback query is read for its pidx only', () => {
    const query = {
      pidx: 'bZQLD9wRVWo4CdESSfuSsB',
      txnId: '4H7AhoXDJWg5WjrcPT9ixW',
      amount: '1000',
      total_amount: '1000',
      status: 'Completed',
      mobile: '98XXXXX904',
      tidx: '4H7AhoXDJWg5WjrcPT9ixW',
      purchase_order_id: 'test12',
      purchase_order_name: 'test',
      transaction_id: '4H7AhoXDJWg5WjrcPT9ixW',
    };
    expect(readKhaltiCallback(query)).toEqual({ pidx: 'bZQLD9wRVWo4CdESSfuSsB', claimedStatus: 'Completed', purchaseOrderId: 'test12' });
    for (const bad of [{}, { pidx: ['a', 'b'] }, { pidx: '' }, { pidx: 'has space' }, { pidx: 'x'.repeat(65) }]) {
      expect(() => readKhaltiCallback(bad)).toThrow(expect.objectContaining({ code: 'PAYMENT_GATEWAY_DATA_INVALID', field: 'pidx' }) as GatewayDataError);
    }
  });
});

describe('the adapter against the Khalti simulator over HTTP', () => {
  let sims: GatewaySimulators;
  let clock = Date.parse('2026-05-01T04:30:00Z');
  const merchant: KhaltiMerchant = { secretKey: KHALTI_SIMULATOR_SECRET_KEY };
  const other: KhaltiMerchant = { secretKey: 'live_secret_key_other_party' };
  beforeAll(async () => {
    sims = await startGatewaySimulators({ khalti: { secretKeys: [merchant.secretKey, other.secretKey], linkTtlSeconds: 1800, now: () => new Date(clock) } });
  });
  afterAll(() => sims.close());

  let counter = 0;
  const input = (amountPaisa = 50000): KhaltiInitiateInput => ({
    amountPaisa,
    purchaseOrderId: `attempt-${String((counter += 1))}`,
    purchaseOrderName: 'Membership dues',
    returnUrl: 'https://members.example.org/pay/khalti/return?attempt=1',
    websiteUrl: 'https://members.example.org/',
  });
  const initiate = (amountPaisa?: number) => initiateKhaltiPayment(merchant, sims.khaltiBaseUrl, input(amountPaisa));
  const lookup = (pidx: string, http = {}) => lookupKhaltiPayment(merchant, sims.khaltiBaseUrl, pidx, http);
  const decide = async (pidx: string, decision: 'confirm' | 'cancel') => {
    const answer = await fetch(new URL(`../../pay/${decision}`, sims.khaltiBaseUrl), { method: 'POST', body: new URLSearchParams({ pidx }), redirect: 'manual' });
    expect(answer.status).toBe(302);
    return new URL(answer.headers.get('location') ?? '');
  };
  const control = (path: string, body?: unknown, method = 'POST') =>
    fetch(new URL(`../../__control/${path}`, sims.khaltiBaseUrl), { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  test('success: initiate, the payment page, the return_url redirect, and lookup says complete', async () => {
    const initiated = await initiate(50000);
    expect(initiated.pidx).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(initiated.paymentUrl).toBe(`${new URL('../../pay/', sims.khaltiBaseUrl).href}?pidx=${initiated.pidx}`);
    expect(initiated.expiresAt.getTime()).toBe(clock + 1800_000);
    const page = await fetch(initiated.paymentUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Rs 500.00');
    expect((await lookup(initiated.pidx)).state).toBe('pending'); // Initiated: held

    const back = await decide(initiated.pidx, 'confirm');
    expect(back.origin + back.pathname).toBe('https://members.example.org/pay/khalti/return');
    expect(back.searchParams.get('attempt')).toBe('1');
    expect(back.searchParams.get('status')).toBe('Completed');
    expect(back.searchParams.get('amount')).toBe('50000');
    const callback = readKhaltiCallback(Object.fromEntries(back.searchParams));
    const verification = await lookup(callback.pidx);
    expect(verification).toMatchObject({ state: 'complete', gatewayStatus: 'Completed', amountPaisa: 50000 });
    expect(verification.gatewayTransactionId).toBe(back.searchParams.get('transaction_id'));
  });

  test('pending, then complete', async () => {
    const { pidx } = await initiate();
    expect((await control(`transactions/${pidx}`, { state: 'Pending' })).status).toBe(200);
    expect(await lookup(pidx)).toMatchObject({ state: 'pending', gatewayStatus: 'Pending' });
    await control(`transactions/${pidx}`, { state: 'Completed' });
    expect(await lookup(pidx)).toMatchObject({ state: 'complete', gatewayStatus: 'Completed' });
  });

  test('failure: the payer cancels (HTTP 400 from lookup, read as canceled); a forced Failed is failed', async () => {
    const { pidx } = await initiate();
    const back = await decide(pidx, 'cancel');
    expect(back.searchParams.get('status')).toBe('User canceled');
    expect(back.searchParams.get('transaction_id')).toBe('');
    expect(await lookup(pidx)).toMatchObject({ state: 'canceled', gatewayStatus: 'User canceled', gatewayTransactionId: null });
    const second = await initiate();
    await control(`transactions/${second.pidx}`, { state: 'Failed' });
    expect((await lookup(second.pidx)).state).toBe('failed');
  });

  test('expiry: a link expires at its time, or when a test expires it; its page then refuses payment', async () => {
    const first = await initiate();
    const second = await initiate();
    clock += 1800_000;
    expect(await lookup(first.pidx)).toMatchObject({ state: 'expired', gatewayStatus: 'Expired' });
    expect((await fetch(first.paymentUrl)).status).toBe(410);
    const third = await initiate();
    expect((await control(`transactions/${third.pidx}/expire`)).status).toBe(200);
    expect((await lookup(third.pidx)).state).toBe('expired');
    const late = await fetch(new URL('../../pay/confirm', sims.khaltiBaseUrl), { method: 'POST', body: new URLSearchParams({ pidx: third.pidx }), redirect: 'manual' });
    expect(late.status).toBe(410);
    expect((await lookup(second.pidx)).state).toBe('expired');
  });

  test('refunds', async () => {
    const { pidx } = await initiate();
    await decide(pidx, 'confirm');
    await control(`transactions/${pidx}`, { state: 'Partially Refunded' });
    expect((await lookup(pidx)).state).toBe('partially_refunded');
    await control(`transactions/${pidx}`, { state: 'Refunded' });
    expect(await lookup(pidx)).toMatchObject({ state: 'refunded', amountPaisa: 50000 });
    expect((await lookup(pidx)).raw).toMatchObject({ refunded: true });
  });

  test('an outage is a typed outage error, then the same question is answered', async () => {
    const { pidx } = await initiate();
    await control('outage', { count: 1 });
    await expect(lookup(pidx)).rejects.toMatchObject({ name: 'GatewayUnavailableError', reason: 'unavailable', httpStatus: 503, retryable: true });
    expect((await lookup(pidx)).state).toBe('pending');

    await control('outage', { mode: 'drop', count: 2 });
    await expect(lookup(pidx)).rejects.toMatchObject({ reason: 'network' });
    await expect(initiate()).rejects.toBeInstanceOf(GatewayUnavailableError);

    await control('delay', { ms: 400, count: 1 });
    await expect(lookup(pidx, { timeoutMs: 100 })).rejects.toMatchObject({ reason: 'timeout' });
    expect((await lookup(pidx)).state).toBe('pending');
  });

  test('a wrong key is refused with Khalti’s 401; another merchant’s pidx is not found', async () => {
    const { pidx } = await initiate();
    await expect(lookupKhaltiPayment({ secretKey: 'live_secret_key_wrong' }, sims.khaltiBaseUrl, pidx)).rejects.toMatchObject({
      name: 'GatewayRefusedError',
      httpStatus: 401,
      message: expect.stringContaining('Invalid token.') as string,
    });
    expect(await lookupKhaltiPayment(other, sims.khaltiBaseUrl, pidx)).toMatchObject({ state: 'not_found' });
    const noPrefix = await fetch(new URL('epayment/lookup/', sims.khaltiBaseUrl), { method: 'POST', headers: { Authorization: merchant.secretKey, 'Content-Type': 'application/json' }, body: JSON.stringify({ pidx }) });
    expect([noPrefix.status, await noPrefix.json()]).toEqual([401, { detail: 'Authentication credentials were not provided.', status_code: 401 }]);
  });

  test('the simulator refuses what Khalti refuses, in Khalti’s shape, and the adapter names the field', async () => {
    const raw = (body: unknown) =>
      fetch(new URL('epayment/initiate/', sims.khaltiBaseUrl), { method: 'POST', headers: { Authorization: `key ${merchant.secretKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const good = { return_url: 'https://example.com/', website_url: 'https://example.com/', amount: '1000', purchase_order_id: 'o-1', purchase_order_name: 'test' };
    expect((await raw(good)).status).toBe(200); // the documented cURL: a lower-case "key" and a string amount
    for (const [change, field, message] of [
      [{ return_url: '' }, 'return_url', 'This field may not be blank.'],
      [{ website_url: 'not a url' }, 'website_url', 'Enter a valid URL.'],
      [{ amount: 999 }, 'amount', 'Amount should be greater than Rs. 10, that is 1000 paisa.'],
      [{ amount: '10.5' }, 'amount', 'A valid integer is required.'],
      [{ purchase_order_name: ' ' }, 'purchase_order_name', 'This field may not be blank.'],
    ] as const) {
      const answer = await raw({ ...good, ...change });
      expect([answer.status, await answer.json()]).toEqual([400, { [field]: [message], error_key: 'validation_error' }]);
    }
    const refused = initiateKhaltiPayment(merchant, sims.khaltiBaseUrl, { ...input(), websiteUrl: 'https://x/' }, { fetch: (url, init) => fetch(url, { ...init, body: JSON.stringify({ ...good, purchase_order_id: '' }) }) });
    await expect(refused).rejects.toMatchObject({ name: 'GatewayRefusedError', field: 'purchase_order_id', httpStatus: 400 });
  });

  test('amounts are paisa end to end, exact: Rs 1000.50', async () => {
    const { pidx } = await initiate(100050);
    await decide(pidx, 'confirm');
    expect((await lookup(pidx)).amountPaisa).toBe(100050);
  });

  test('bad input is refused before any request, naming the field', async () => {
    for (const [change, field] of [
      [{ amountPaisa: 999 }, 'amountPaisa'],
      [{ amountPaisa: 1000.5 }, 'amountPaisa'],
      [{ purchaseOrderId: '' }, 'purchaseOrderId'],
      [{ purchaseOrderName: ' ' }, 'purchaseOrderName'],
      [{ returnUrl: 'ftp://example.com/' }, 'returnUrl'],
      [{ websiteUrl: 'example.com' }, 'websiteUrl'],
    ] as const) {
      await expect(initiateKhaltiPayment(merchant, sims.khaltiBaseUrl, { ...input(), ...change })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field });
    }
    await expect(lookup('has space')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'pidx' });
  });
});
