import { createHmac } from 'node:crypto';
import {
  buildEsewaForm,
  checkEsewaStatus,
  ESEWA_SANDBOX,
  ESEWA_SANDBOX_MERCHANT,
  esewaSignature,
  verifyEsewaRedirect,
  type EsewaForm,
  type EsewaMerchant,
} from '../../src/payments/gateways/esewa.ts';
import { GatewayDataError, GatewayRefusedError, GatewayUnavailableError } from '../../src/payments/gateways/gateway.ts';
import { startGatewaySimulators, type GatewaySimulators } from '../../src/payments/gateways/simulators/gateway-simulators.ts';

const MERCHANT = ESEWA_SANDBOX_MERCHANT;
const SECRET = '8gBm/:&EnhH.1/q';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const sign = (secret: string, message: string) => createHmac('sha256', secret).update(message).digest('base64');

/** A redirect `data` as eSewa builds it: the JSON text as given, base64. */
function redirectData(json: string): string {
  return b64(json);
}

/** The fetch a test hands the adapter: one canned answer, as the documentation prints it. */
function answering(status: number, body: string): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fake: typeof fetch = (input) => {
    urls.push(input instanceof Request ? input.url : input.toString());
    return Promise.resolve(new Response(body, { status, headers: { 'Content-Type': 'application/json' } }));
  };
  return { fetch: fake, urls };
}

describe('eSewa documentation vectors (developer.esewa.com.np/pages/Epay, ePay v2)', () => {
  test('the documented request form is reproduced field for field, its signature included', () => {
    const form = buildEsewaForm(MERCHANT, ESEWA_SANDBOX, {
      amountPaisa: 10000,
      taxPaisa: 1000,
      transactionUuid: '241028',
      successUrl: 'https://developer.esewa.com.np/success',
      failureUrl: 'https://developer.esewa.com.np/failure',
    });
    expect(form.action).toBe('https://rc-epay.esewa.com.np/api/epay/main/v2/form');
    expect(form.fields).toEqual({
      amount: '100',
      failure_url: 'https://developer.esewa.com.np/failure',
      product_delivery_charge: '0',
      product_service_charge: '0',
      product_code: 'EPAYTEST',
      signature: 'i94zsd3oXF6ZsSr/kGqT4sSzYQzjj1W/waxjWyRwaME=',
      signed_field_names: 'total_amount,transaction_uuid,product_code',
      success_url: 'https://developer.esewa.com.np/success',
      tax_amount: '10',
      total_amount: '110',
      transaction_uuid: '241028',
    });
    expect(form.totalPaisa).toBe(11000);
  });

  test('the HMAC section’s input signs as HMAC-SHA256 says; the page’s printed result for it does not reproduce under the published key', () => {
    const message = 'total_amount=100,transaction_uuid=11-201-13,product_code=EPAYTEST';
    // Computed independently with `openssl dgst -sha256 -hmac '8gBm/:&EnhH.1/q' -binary | base64`.
    expect(esewaSignature(SECRET, message)).toBe('5DZywcrTKD0gia/rsSMcrRHmJl+4Tbol6S+lWgdJ94E=');
    // The page prints 4Ov7pCI1zIOdwtV2BRMUNjz1upIlT/COTxfLhWvVurE= for this input: no key it
    // publishes gives that, while its form example (above) and its success response (below)
    // do verify under 8gBm/:&EnhH.1/q. docs/payments.md records the discrepancy.
    expect(esewaSignature(SECRET, message)).not.toBe('4Ov7pCI1zIOdwtV2BRMUNjz1upIlT/COTxfLhWvVurE=');
  });

  const documentedResponse =
    '{"transaction_code":"000AWEO","status":"COMPLETE","total_amount":"1000.0","transaction_uuid":"250610-162413","product_code":"EPAYTEST","signed_field_names":"transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names","signature":"62GcfZTmVkzhtUeh+QJ1AqiJrjoWWGof3U+eTPTZ7fA="}';

  test('the documented success response verifies, its total_amount read as 100000 paisa', () => {
    const redirect = verifyEsewaRedirect(MERCHANT, redirectData(documentedResponse));
    expect(redirect).toMatchObject({
      transactionCode: '000AWEO',
      status: 'COMPLETE',
      totalAmount: '1000.0',
      amountPaisa: 100000,
      transactionUuid: '250610-162413',
      productCode: 'EPAYTEST',
    });
  });

  test('the documented decoded form (total_amount a JSON number 1000.0) verifies over the number as written', () => {
    const asNumber = documentedResponse.replace('"total_amount":"1000.0"', '"total_amount":1000.0');
    expect(verifyEsewaRedirect(MERCHANT, redirectData(asNumber)).amountPaisa).toBe(100000);
  });

  test('the page’s printed base64 of that response (one character lost in its line breaks) is refused as malformed', () => {
    const printed =
      'eyJ0cmFuc2FjdGlvbl9jb2RlIjoiMDAwQVdFTyIsInN0YXR1cyI6IkNPTVBMRVRFIiwidG90YWxfYW1vdW50IjoiMTAwMC4wIiwi' +
      'dHJhbNhY3Rpb25fdXVpZCI6IjI1MDYxMC0xNjI0MTMiLCJwcm9kdWN0X2NvZGUiOiJFUEFZVEVTVCIsInNpZ25lZF9maWVsZF9uYW1' +
      'lcyI6InRyYW5zYWN0aW9uX2NvZGUsc3RhdHVzLHRvdGFsX2Ftb3VudCx0cmFuc2FjdGlvbl91dWlkLHByb2R1Y3RfY29kZSxzaWd' +
      'uZWRfZmllbGRfbmFtZXMiLCJzaWduYXR1cmUiOiI2MkdjZlpUbVZremh0VWVoK1FKMUFxaUpyam9XV0dvZjNVK2VUUFRaN2ZBPSJ9';
    expect(() => verifyEsewaRedirect(MERCHANT, printed)).toThrow(expect.objectContaining({ code: 'PAYMENT_GATEWAY_DATA_INVALID', field: 'data' }) as GatewayDataError);
    // With the lost "n" put back it is the response above, and verifies.
    expect(verifyEsewaRedirect(MERCHANT, printed.replace('dHJhbNhY3Rp', 'dHJhbnNhY3Rp')).transactionCode).toBe('000AWEO');
  });

  test.each([
    ['PENDING', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100.0,"status":"PENDING","ref_id":null}', 'pending', null, 10000],
    ['COMPLETE', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100.0,"status":"COMPLETE","ref_id":"0007G36"}', 'complete', '0007G36', 10000],
    ['FULL_REFUND', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100,"status":"FULL_REFUND","ref_id":"0007G36"}', 'refunded', '0007G36', 10000],
    ['PARTIAL_REFUND', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100.0,"status":"PARTIAL_REFUND","ref_id":"0007G36"}', 'partially_refunded', '0007G36', 10000],
    ['AMBIGUOUS', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100.0,"status":"AMBIGUOUS","ref_id":"0KDL6NA"}', 'ambiguous', '0KDL6NA', 10000],
    ['NOT_FOUND', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":100.0,"status":"NOT_FOUND","ref_id":null}', 'not_found', null, 10000],
    ['CANCELED', '{"product_code":"EPAYTEST","transaction_uuid":"240508-101430","total_amount":10.0,"status":"CANCELED","ref_id":"0KDL6NA"}', 'canceled', '0KDL6NA', 1000],
  ])('the documented status answer %s maps to one state', async (_status, body, state, refId, amountPaisa) => {
    const http = answering(200, body);
    const verification = await checkEsewaStatus(MERCHANT, ESEWA_SANDBOX, { transactionUuid: '240508-101430', totalPaisa: amountPaisa }, { fetch: http.fetch });
    expect(verification).toMatchObject({ gateway: 'esewa', state, gatewayStatus: _status, reference: '240508-101430', gatewayTransactionId: refId, amountPaisa });
    const url = new URL(http.urls[0] ?? '');
    expect(url.origin + url.pathname).toBe('https://rc.esewa.com.np/api/epay/transaction/status/');
    expect(Object.fromEntries(url.searchParams)).toEqual({ product_code: 'EPAYTEST', total_amount: amountPaisa === 1000 ? '10' : '100', transaction_uuid: '240508-101430' });
  });

  test('the documented "Service is currently unavailable" answer is an outage, not a state', async () => {
    const http = answering(200, '{"code": 0, "error_message": "Service is currently unavailable"}');
    const outage = checkEsewaStatus(MERCHANT, ESEWA_SANDBOX, { transactionUuid: 'a-1', totalPaisa: 10000 }, { fetch: http.fetch });
    await expect(outage).rejects.toBeInstanceOf(GatewayUnavailableError);
    await expect(outage).rejects.toMatchObject({ code: 'PAYMENT_GATEWAY_UNAVAILABLE', reason: 'unavailable', retryable: true });
  });

  test('an answer about another transaction, or with no readable amount, is not taken', async () => {
    for (const body of [
      '{"product_code":"EPAYTEST","transaction_uuid":"other","total_amount":100.0,"status":"COMPLETE","ref_id":"X"}',
      '{"product_code":"OTHER","transaction_uuid":"a-1","total_amount":100.0,"status":"COMPLETE","ref_id":"X"}',
      '{"product_code":"EPAYTEST","transaction_uuid":"a-1","total_amount":100.005,"status":"COMPLETE","ref_id":"X"}',
      '{"product_code":"EPAYTEST","transaction_uuid":"a-1","status":"COMPLETE","ref_id":"X"}',
      '<html>gateway error</html>',
    ]) {
      await expect(checkEsewaStatus(MERCHANT, ESEWA_SANDBOX, { transactionUuid: 'a-1', totalPaisa: 10000 }, { fetch: answering(200, body).fetch })).rejects.toMatchObject({
        reason: 'bad_response',
      });
    }
  });
});

describe('a success redirect is refused unless it verifies, naming what is wrong', () => {
  const fields = {
    transaction_code: '000AWEO',
    status: 'COMPLETE',
    total_amount: '1000.0',
    transaction_uuid: '250610-162413',
    product_code: 'EPAYTEST',
    signed_field_names: 'transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names',
  };
  const signed = (values: Record<string, string>, secret = SECRET): Record<string, string> & { signature: string } => {
    const message = values.signed_field_names!.split(',').map((name) => `${name}=${values[name]}`).join(',');
    return { ...values, signature: sign(secret, message) };
  };
  const refused = (data: unknown, field: string) =>
    expect(() => verifyEsewaRedirect(MERCHANT, data)).toThrow(expect.objectContaining({ code: 'PAYMENT_GATEWAY_DATA_INVALID', field }) as GatewayDataError);

  test('a correctly signed redirect verifies (the control case)', () => {
    expect(verifyEsewaRedirect(MERCHANT, b64(JSON.stringify(signed(fields)))).amountPaisa).toBe(100000);
  });

  test('a changed status, amount, uuid or code after signing fails the signature', () => {
    const good = signed(fields);
    for (const change of [{ status: 'COMPLETE ' }, { total_amount: '10000.0' }, { total_amount: '1000' }, { transaction_uuid: '250610-162414' }, { transaction_code: '000AWEP' }]) {
      refused(b64(JSON.stringify({ ...good, ...change })), 'signature');
    }
  });

  test('a redirect signed with another key fails the signature', () => {
    refused(b64(JSON.stringify(signed(fields, 'another secret'))), 'signature');
  });

  test('signed_field_names must cover what we read, once each', () => {
    refused(b64(JSON.stringify(signed({ ...fields, signed_field_names: 'transaction_code,total_amount,transaction_uuid,product_code,signed_field_names' }))), 'signed_field_names');
    refused(b64(JSON.stringify(signed({ ...fields, signed_field_names: 'status,status,transaction_code,total_amount,transaction_uuid,product_code' }))), 'signed_field_names');
    refused(b64(JSON.stringify({ ...signed(fields), signed_field_names: 5 })), 'signed_field_names');
  });

  test('a signed field that is missing or not a scalar is named', () => {
    const good = signed(fields);
    const { status: _status, ...withoutStatus } = good;
    refused(b64(JSON.stringify(withoutStatus)), 'status');
    refused(b64(JSON.stringify({ ...good, total_amount: { value: '1000.0' } })), 'total_amount');
  });

  test('a signature that is not canonical base64 of 32 bytes is refused as such', () => {
    const good = signed(fields);
    refused(b64(JSON.stringify({ ...good, signature: good.signature.replace('=', '') })), 'signature');
    refused(b64(JSON.stringify({ ...good, signature: good.signature.slice(0, -2) + 'N=' })), 'signature'); // a spare bit set
    refused(b64(JSON.stringify({ ...good, signature: b64('short') })), 'signature');
    refused(b64(JSON.stringify({ ...good, signature: undefined })), 'signature');
  });

  test('data that is not canonical base64 of a UTF-8 JSON object is refused as data', () => {
    const json = JSON.stringify(signed(fields));
    refused(undefined, 'data');
    refused('', 'data');
    const padded = [json, `${json} `, `${json}  `].map(b64).find((text) => text.endsWith('=')) ?? '';
    expect(verifyEsewaRedirect(MERCHANT, padded).transactionCode).toBe('000AWEO');
    refused(padded.replace(/=+$/, ''), 'data');
    // An unsigned extra field whose bytes spell '+' and '/' in base64, so the base64url spelling differs.
    const standard = b64(JSON.stringify({ ...signed(fields), extra: '???>>>???>>>???' }));
    expect(standard).toMatch(/[+/]/);
    expect(verifyEsewaRedirect(MERCHANT, standard).transactionCode).toBe('000AWEO');
    refused(standard.replace(/\+/g, '-').replace(/\//g, '_'), 'data');
    refused(standard.replace(/[+/]/, ' '), 'data');
    refused(b64('[1,2]'), 'data');
    refused(b64('not json'), 'data');
    refused(Buffer.from([0xff, 0xfe, 0x7b]).toString('base64'), 'data');
    refused('A'.repeat(8196), 'data');
  });

  test('another merchant’s properly signed redirect is refused by product_code', () => {
    const other: EsewaMerchant = { productCode: 'NC-PARTY', secretKey: SECRET };
    expect(() => verifyEsewaRedirect(other, b64(JSON.stringify(signed(fields))))).toThrow(expect.objectContaining({ field: 'product_code' }) as GatewayDataError);
  });

  test('a signed total that is not rupees and whole paisa is refused by total_amount', () => {
    refused(b64(JSON.stringify(signed({ ...fields, total_amount: '1000.005' }))), 'total_amount');
  });
});

describe('the adapter against the eSewa simulator over HTTP', () => {
  let sims: GatewaySimulators;
  let clock = Date.parse('2026-05-01T04:30:00Z');
  beforeAll(async () => {
    sims = await startGatewaySimulators({ esewa: { now: () => new Date(clock), sessionTtlMs: 10 * 60_000 } });
  });
  afterAll(() => sims.close());

  const returnUrls = { successUrl: 'https://members.example.org/pay/esewa/ok?attempt=1', failureUrl: 'https://members.example.org/pay/esewa/failed?attempt=1' };
  let counter = 0;
  const newForm = (amountPaisa = 50000, merchant: EsewaMerchant = MERCHANT): EsewaForm =>
    buildEsewaForm(merchant, sims.esewaEndpoints, { amountPaisa, transactionUuid: `att-${String((counter += 1))}`, ...returnUrls });
  const post = (url: string, fields: Record<string, string>) => fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
  const submit = async (form: EsewaForm) => {
    const page = await post(form.action, { ...form.fields });
    expect(page.status).toBe(200);
    return page.text();
  };
  const decide = async (form: EsewaForm, decision: 'pay' | 'cancel') => {
    const answer = await post(new URL(`checkout/${decision}`, sims.esewaBaseUrl).href, { product_code: form.fields.product_code, transaction_uuid: form.fields.transaction_uuid });
    expect(answer.status).toBe(302);
    return new URL(answer.headers.get('location') ?? '');
  };
  const status = (form: EsewaForm, http = {}) => checkEsewaStatus(MERCHANT, sims.esewaEndpoints, { transactionUuid: form.fields.transaction_uuid, totalPaisa: form.totalPaisa }, http);
  const control = (path: string, body: unknown, method = 'POST') =>
    fetch(new URL(`__control/${path}`, sims.esewaBaseUrl), { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  test('success: form, payment, signed redirect, and the status API says complete', async () => {
    const form = newForm(50000);
    expect(await submit(form)).toContain('Pay');
    const back = await decide(form, 'pay');
    expect(back.origin + back.pathname).toBe('https://members.example.org/pay/esewa/ok');
    expect(back.searchParams.get('attempt')).toBe('1');
    const redirect = verifyEsewaRedirect(MERCHANT, back.searchParams.get('data'));
    expect(redirect).toMatchObject({ status: 'COMPLETE', totalAmount: '500.0', amountPaisa: 50000, transactionUuid: form.fields.transaction_uuid });
    const verification = await status(form);
    expect(verification).toMatchObject({ state: 'complete', gatewayStatus: 'COMPLETE', amountPaisa: 50000, gatewayTransactionId: redirect.transactionCode });
  });

  test('pending, then complete: the status API says pending until the payment completes', async () => {
    const form = newForm();
    await submit(form);
    expect((await status(form)).state).toBe('pending');
    expect((await control(`transactions/${form.fields.transaction_uuid}`, { state: 'COMPLETE' })).status).toBe(200);
    const verification = await status(form);
    expect(verification.state).toBe('complete');
    expect(verification.gatewayTransactionId).toMatch(/^000[0-9A-Z]{4}$/);
  });

  test('failure: the payer cancels, lands on failure_url, and nothing is paid; the session then expires (NOT_FOUND)', async () => {
    const form = newForm();
    await submit(form);
    const back = await decide(form, 'cancel');
    expect(back.href).toBe(returnUrls.failureUrl);
    expect((await status(form)).state).toBe('pending');
    clock += 10 * 60_000;
    expect(await status(form)).toMatchObject({ state: 'not_found', gatewayTransactionId: null });
  });

  test('refunds, reversals and ambiguity are reported as such', async () => {
    const form = newForm();
    await submit(form);
    await decide(form, 'pay');
    for (const [forced, state] of [
      ['AMBIGUOUS', 'ambiguous'],
      ['PARTIAL_REFUND', 'partially_refunded'],
      ['FULL_REFUND', 'refunded'],
      ['CANCELED', 'canceled'],
    ] as const) {
      await control(`transactions/${form.fields.transaction_uuid}`, { state: forced });
      expect((await status(form)).state).toBe(state);
    }
  });

  test('an unknown transaction, or the right one asked with another amount, is NOT_FOUND', async () => {
    const form = newForm(50000);
    await submit(form);
    expect((await checkEsewaStatus(MERCHANT, sims.esewaEndpoints, { transactionUuid: 'never-made', totalPaisa: 50000 })).state).toBe('not_found');
    expect((await checkEsewaStatus(MERCHANT, sims.esewaEndpoints, { transactionUuid: form.fields.transaction_uuid, totalPaisa: 50001 })).state).toBe('not_found');
  });

  test('an outage is a typed outage error, then the same question is answered', async () => {
    const form = newForm();
    await submit(form);
    expect((await control('outage', { count: 1 })).status).toBe(204);
    await expect(status(form)).rejects.toMatchObject({ name: 'GatewayUnavailableError', reason: 'unavailable', httpStatus: 503, retryable: true });
    expect((await status(form)).state).toBe('pending');

    await control('outage', { mode: 'drop', count: 1 });
    await expect(status(form)).rejects.toMatchObject({ name: 'GatewayUnavailableError', reason: 'network' });

    await control('delay', { ms: 400, count: 1 });
    await expect(status(form, { timeoutMs: 100 })).rejects.toMatchObject({ name: 'GatewayUnavailableError', reason: 'timeout' });

    await control('outage', { until: new Date(clock + 60_000).toISOString() });
    await expect(status(form)).rejects.toBeInstanceOf(GatewayUnavailableError);
    expect((await control('outage', undefined, 'DELETE')).status).toBe(204);
    expect((await status(form)).state).toBe('pending');
  });

  test('a form with a wrong signature, a wrong total or a missing field gets eSewa’s error and records nothing', async () => {
    const form = newForm();
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...form.fields, signature: buildEsewaForm({ productCode: 'EPAYTEST', secretKey: 'wrong' }, sims.esewaEndpoints, { amountPaisa: 50000, transactionUuid: form.fields.transaction_uuid, ...returnUrls }).fields.signature }, /signature/i],
      [{ ...form.fields, total_amount: '600' }, /total_amount/],
      [{ ...form.fields, amount: '600', total_amount: '600' }, /signature/i],
      [Object.fromEntries(Object.entries(form.fields).filter(([name]) => name !== 'failure_url')), /failure_url/],
      [{ ...form.fields, product_code: 'UNKNOWN' }, /product code/i],
    ];
    for (const [fields, message] of cases) {
      const answer = await post(form.action, fields);
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as { code: number; error_message: string };
      expect(body.code).toBe(0);
      expect(body.error_message).toMatch(message);
    }
    expect((await status(form)).state).toBe('not_found');
  });

  test('amounts with paisa are exact end to end: Rs 1000.50, and Rs 0.10 + Rs 0.20 charges', async () => {
    const form = newForm(100050);
    expect(form.fields.total_amount).toBe('1000.50');
    await submit(form);
    const redirect = verifyEsewaRedirect(MERCHANT, (await decide(form, 'pay')).searchParams.get('data'));
    expect([redirect.totalAmount, redirect.amountPaisa]).toEqual(['1000.5', 100050]);
    expect((await status(form)).amountPaisa).toBe(100050);

    const small = buildEsewaForm(MERCHANT, sims.esewaEndpoints, { amountPaisa: 10, serviceChargePaisa: 20, transactionUuid: 'small-1', ...returnUrls });
    expect([small.fields.amount, small.fields.product_service_charge, small.fields.total_amount, small.totalPaisa]).toEqual(['0.10', '0.20', '0.30', 30]);
    await submit(small);
    expect((await status(small)).amountPaisa).toBe(30);
  });

  test('the status API refuses a query without its parameters with eSewa’s error (a refusal, not an outage)', async () => {
    const unknownProduct: typeof fetch = (url) => fetch((url instanceof Request ? url.url : url.toString()).replace(/product_code=[^&]*/, 'product_code=UNKNOWN'));
    const http = { fetch: unknownProduct };
    await expect(checkEsewaStatus(MERCHANT, sims.esewaEndpoints, { transactionUuid: 'x-1', totalPaisa: 100 }, http)).rejects.toBeInstanceOf(GatewayRefusedError);
  });

  test('bad input to the form builder is refused naming the field', () => {
    const input = { amountPaisa: 100, transactionUuid: 'ok-1', ...returnUrls };
    expect(() => buildEsewaForm(MERCHANT, sims.esewaEndpoints, { ...input, transactionUuid: 'has space' })).toThrow(expect.objectContaining({ field: 'transactionUuid' }) as Error);
    expect(() => buildEsewaForm(MERCHANT, sims.esewaEndpoints, { ...input, amountPaisa: 100.5 })).toThrow(expect.objectContaining({ field: 'amountPaisa' }) as Error);
    expect(() => buildEsewaForm(MERCHANT, sims.esewaEndpoints, { ...input, amountPaisa: 0 })).toThrow(expect.objectContaining({ field: 'amountPaisa' }) as Error);
    expect(() => buildEsewaForm(MERCHANT, sims.esewaEndpoints, { ...input, successUrl: 'javascript:alert(1)' })).toThrow(expect.objectContaining({ field: 'successUrl' }) as Error);
  });
});
