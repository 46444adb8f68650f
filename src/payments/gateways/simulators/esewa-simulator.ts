/**
 * A local eSewa ePay v2, faithful to its documented requests, answers and signatures, for
 * development and tests (no network). Paths are eSewa's, relative to where the router is mounted:
 *
 * - `POST api/epay/main/v2/form`: the merchant's form (urlencoded). Checks every field as eSewa
 *   documents it (all present, `total_amount` = amount + tax + service + delivery, the
 *   transaction UUID's characters, a known `product_code`, the signature over
 *   `signed_field_names` with that merchant's secret key). A bad form answers 400 with eSewa's
 *   error shape `{ "code": 0, "error_message": "..." }`. A good one records the transaction
 *   PENDING and answers the payer's page (standing in for eSewa's login), with Pay and Cancel.
 * - `POST checkout/pay`: the payer pays: COMPLETE, and a redirect to `success_url?data=<base64
 *   JSON>` signed over `transaction_code,status,total_amount,transaction_uuid,product_code,
 *   signed_field_names`, with `total_amount` written as eSewa writes it (`"1000.0"`).
 * - `POST checkout/cancel`: a redirect to `failure_url`; the transaction stays PENDING until its
 *   session expires (then NOT_FOUND, as eSewa documents: "Session expired").
 * - `GET api/epay/transaction/status/?product_code&total_amount&transaction_uuid`: the status
 *   API, in the documented shape (`total_amount` a number like `100.0`, `ref_id` null until paid).
 *
 * Control (not eSewa's; for tests): `POST __control/transactions/:uuid {state}` forces any
 * status; `GET __control/transactions/:uuid` reads one; `POST __control/outage {mode?, count?,
 * until?}` (503 with eSewa's "Service is currently unavailable", or a dropped connection),
 * `POST __control/delay {ms, count?, until?}`, `DELETE __control/outage` clears both.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { ESEWA_SANDBOX_MERCHANT, ESEWA_STATUSES, esewaSignature, esewaSigningMessage, type EsewaMerchant, type EsewaStatus } from '../esewa.ts';
import { rupeesToPaisa } from '../gateway.ts';
import { faultControlRoutes, FaultInjector } from './faults.ts';
import { escapeHtml, page } from './html.ts';

export interface EsewaSimulatorOptions {
  /** The merchants it knows; eSewa's sandbox merchant (EPAYTEST) by default. */
  merchants?: EsewaMerchant[];
  /** A PENDING transaction older than this becomes NOT_FOUND ("Session expired"). Default 30 minutes. */
  sessionTtlMs?: number;
  now?: () => Date;
}

export interface EsewaSimulatedTransaction {
  productCode: string;
  transactionUuid: string;
  /** The form's fields as received. */
  form: Record<string, string>;
  totalPaisa: number;
  status: EsewaStatus;
  /** eSewa's reference (`ref_id` in the status API, `transaction_code` in the redirect); null until paid. */
  refId: string | null;
  createdAt: Date;
}

export interface EsewaSimulator {
  router: Router;
  transactions: Map<string, EsewaSimulatedTransaction>;
  faults: FaultInjector;
  /** Forces a transaction's status, as `POST __control/transactions/:uuid` does. */
  force(transactionUuid: string, status: EsewaStatus, productCode?: string): EsewaSimulatedTransaction;
}

const REQUIRED_FORM_FIELDS = [
  'amount',
  'tax_amount',
  'total_amount',
  'transaction_uuid',
  'product_code',
  'product_service_charge',
  'product_delivery_charge',
  'success_url',
  'failure_url',
  'signed_field_names',
  'signature',
] as const;

const REDIRECT_SIGNED_FIELDS = 'transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names';
const REF_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Rupees the way eSewa (Java) writes a double: `1000.0`, `1000.5`, `1000.05`. */
export function esewaRupees(paisa: number): string {
  const rupees = Math.trunc(paisa / 100);
  const rest = paisa % 100;
  if (rest === 0) return `${String(rupees)}.0`;
  return `${String(rupees)}.${String(rest).padStart(2, '0').replace(/0$/, '')}`;
}

function newRefId(): string {
  let id = '000';
  for (let index = 0; index < 4; index += 1) id += REF_ALPHABET[randomInt(REF_ALPHABET.length)];
  return id;
}

const key = (productCode: string, transactionUuid: string) => `${productCode}\u0000${transactionUuid}`;

function esewaError(response: Response, status: number, message: string): void {
  response.status(status).json({ code: 0, error_message: message });
}

const forceRequest = z.object({ state: z.enum(ESEWA_STATUSES), productCode: z.string().optional() }).strict();

export function createEsewaSimulator(options: EsewaSimulatorOptions = {}): EsewaSimulator {
  const merchants = new Map((options.merchants ?? [ESEWA_SANDBOX_MERCHANT]).map((merchant) => [merchant.productCode, merchant]));
  const now = options.now ?? (() => new Date());
  const sessionTtlMs = options.sessionTtlMs ?? 30 * 60_000;
  const transactions = new Map<string, EsewaSimulatedTransaction>();
  const faults = new FaultInjector(() => now().getTime());
  const router = Router();
  const gateway = faults.middleware((response) => esewaError(response, 503, 'Service is currently unavailable'));
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  /** Lazily applies the session expiry. */
  const current = (transaction: EsewaSimulatedTransaction): EsewaSimulatedTransaction => {
    if (transaction.status === 'PENDING' && now().getTime() - transaction.createdAt.getTime() >= sessionTtlMs) transaction.status = 'NOT_FOUND';
    return transaction;
  };

  const find = (transactionUuid: string, productCode?: string): EsewaSimulatedTransaction | undefined => {
    if (productCode !== undefined) return transactions.get(key(productCode, transactionUuid));
    return [...transactions.values()].find((transaction) => transaction.transactionUuid === transactionUuid);
  };

  const force = (transactionUuid: string, status: EsewaStatus, productCode?: string): EsewaSimulatedTransaction => {
    const transaction = find(transactionUuid, productCode);
    if (!transaction) throw new Error(`no eSewa transaction ${transactionUuid}`);
    transaction.status = status;
    if (status === 'PENDING' || status === 'NOT_FOUND') transaction.refId = null;
    else transaction.refId ??= newRefId();
    return transaction;
  };

  router.post('/api/epay/main/v2/form', gateway, form, (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const name of REQUIRED_FORM_FIELDS) {
      const value = body[name];
      if (typeof value !== 'string' || value === '') {
        esewaError(response, 400, `${name} is required`);
        return;
      }
      fields[name] = value;
    }
    const merchant = merchants.get(fields.product_code ?? '');
    if (!merchant) {
      esewaError(response, 400, 'Invalid product code');
      return;
    }
    const uuid = fields.transaction_uuid ?? '';
    if (!/^[A-Za-z0-9-]+$/.test(uuid)) {
      esewaError(response, 400, 'transaction_uuid supports alphanumeric and hyphen(-) only');
      return;
    }
    const paisa = ['amount', 'tax_amount', 'product_service_charge', 'product_delivery_charge', 'total_amount'].map((name) => rupeesToPaisa(fields[name] ?? ''));
    if (paisa.some((value) => value === null)) {
      esewaError(response, 400, 'Invalid amount');
      return;
    }
    const [amount = 0, tax = 0, service = 0, delivery = 0, total = 0] = paisa as number[];
    if (amount + tax + service + delivery !== total || total <= 0) {
      esewaError(response, 400, 'total_amount must be amount + tax_amount + product_service_charge + product_delivery_charge');
      return;
    }
    const names = (fields.signed_field_names ?? '').split(',');
    if (!['total_amount', 'transaction_uuid', 'product_code'].every((name) => names.includes(name)) || names.some((name) => fields[name] === undefined)) {
      esewaError(response, 400, 'signed_field_names must list total_amount,transaction_uuid,product_code');
      return;
    }
    const expected = createHmac('sha256', merchant.secretKey).update(esewaSigningMessage(fields, fields.signed_field_names ?? ''), 'utf8').digest();
    const received = Buffer.from(fields.signature ?? '', 'base64');
    if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
      esewaError(response, 400, 'Invalid payload signature.');
      return;
    }
    const existing = transactions.get(key(merchant.productCode, uuid));
    if (existing && !(current(existing).status === 'PENDING' && existing.totalPaisa === total)) {
      esewaError(response, 400, 'Duplicate transaction_uuid');
      return;
    }
    const transaction = existing ?? { productCode: merchant.productCode, transactionUuid: uuid, form: fields, totalPaisa: total, status: 'PENDING' as const, refId: null, createdAt: now() };
    transactions.set(key(merchant.productCode, uuid), transaction);
    const hidden = `<input type="hidden" name="product_code" value="${escapeHtml(merchant.productCode)}"><input type="hidden" name="transaction_uuid" value="${escapeHtml(uuid)}">`;
    response
      .status(200)
      .type('html')
      .send(
        page(
          'eSewa (simulator)',
          `<h1>eSewa (simulator)</h1><p>Pay Rs ${escapeHtml(fields.total_amount ?? '')} to ${escapeHtml(merchant.productCode)} for ${escapeHtml(uuid)}?</p>` +
            `<form method="post" action="${escapeHtml(request.baseUrl)}/checkout/pay">${hidden}<button>Pay</button></form>` +
            `<form method="post" action="${escapeHtml(request.baseUrl)}/checkout/cancel">${hidden}<button>Cancel</button></form>`,
        ),
      );
  });

  const checkout = (decision: 'pay' | 'cancel') => (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const transaction = typeof body.transaction_uuid === 'string' && typeof body.product_code === 'string' ? transactions.get(key(body.product_code, body.transaction_uuid)) : undefined;
    if (!transaction) {
      response.status(404).type('html').send(page('eSewa (simulator)', '<p>No such payment session.</p>'));
      return;
    }
    current(transaction);
    if (decision === 'cancel' || transaction.status !== 'PENDING') {
      response.redirect(302, transaction.form.failure_url ?? '/');
      return;
    }
    const merchant = merchants.get(transaction.productCode);
    if (!merchant) throw new Error('the merchant of a recorded transaction is gone');
    force(transaction.transactionUuid, 'COMPLETE', transaction.productCode);
    const values: Record<string, string> = {
      transaction_code: transaction.refId ?? '',
      status: 'COMPLETE',
      total_amount: esewaRupees(transaction.totalPaisa),
      transaction_uuid: transaction.transactionUuid,
      product_code: transaction.productCode,
      signed_field_names: REDIRECT_SIGNED_FIELDS,
    };
    const signature = esewaSignature(merchant.secretKey, esewaSigningMessage(values, REDIRECT_SIGNED_FIELDS));
    const data = Buffer.from(JSON.stringify({ ...values, signature }), 'utf8').toString('base64');
    const target = new URL(transaction.form.success_url ?? '/');
    target.searchParams.set('data', data);
    response.redirect(302, target.href);
  };
  router.post('/checkout/pay', form, checkout('pay'));
  router.post('/checkout/cancel', form, checkout('cancel'));

  router.get('/api/epay/transaction/status', gateway, (request: Request, response: Response) => {
    const query = request.query;
    const productCode = query.product_code;
    const totalAmount = query.total_amount;
    const uuid = query.transaction_uuid;
    if (typeof productCode !== 'string' || typeof totalAmount !== 'string' || typeof uuid !== 'string' || productCode === '' || uuid === '') {
      esewaError(response, 400, 'product_code, total_amount and transaction_uuid are required');
      return;
    }
    if (!merchants.has(productCode)) {
      esewaError(response, 400, 'Invalid product code');
      return;
    }
    const total = rupeesToPaisa(totalAmount);
    if (total === null) {
      esewaError(response, 400, 'Invalid total_amount');
      return;
    }
    const found = transactions.get(key(productCode, uuid));
    const transaction = found && found.totalPaisa === total ? current(found) : null;
    const status: EsewaStatus = transaction?.status ?? 'NOT_FOUND';
    const refId = transaction?.refId ?? null;
    // Written by hand so that total_amount is a number written like eSewa's (100.0).
    const json = `{"product_code":${JSON.stringify(productCode)},"transaction_uuid":${JSON.stringify(uuid)},"total_amount":${esewaRupees(total)},"status":${JSON.stringify(status)},"ref_id":${JSON.stringify(refId)}}`;
    response.status(200).type('application/json').send(json);
  });

  const control = Router();
  control.use(express.json({ limit: '4kb' }));
  control.get('/transactions/:uuid', (request: Request, response: Response) => {
    const transaction = find(String(request.params.uuid));
    if (!transaction) {
      response.status(404).json({ error: 'no such transaction' });
      return;
    }
    response.json(current(transaction));
  });
  control.post('/transactions/:uuid', (request: Request, response: Response) => {
    const parsed = forceRequest.safeParse(request.body);
    if (!parsed.success) {
      response.status(400).json({ error: parsed.error.message });
      return;
    }
    if (!find(String(request.params.uuid), parsed.data.productCode)) {
      response.status(404).json({ error: 'no such transaction' });
      return;
    }
    response.json(force(String(request.params.uuid), parsed.data.state, parsed.data.productCode));
  });
  faultControlRoutes(control, faults);
  router.use('/__control', control);

  return { router, transactions, faults, force };
}
