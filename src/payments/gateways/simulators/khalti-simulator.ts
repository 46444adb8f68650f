/**
 * A local Khalti KPG-2, faithful to its documented requests and answers, for development and
 * tests (no network). Paths are Khalti's, relative to where the router is mounted (the API
 * base is `<mount>/api/v2/`):
 *
 * - `POST api/v2/epayment/initiate/` with `Authorization: Key <secret>`: no `Key ` prefix →
 *   401 "Authentication credentials were not provided.", an unknown key → 401 "Invalid
 *   token."; a bad field → 400 `{ "<field>": ["..."], "error_key": "validation_error" }`
 *   (blank or invalid URLs, an amount that is not an integer or under 1000 paisa, a blank
 *   order id or name). Otherwise `{ pidx, payment_url, expires_at, expires_in }`; the
 *   transaction is Initiated and its link expires after `linkTtlSeconds`.
 * - `GET pay/?pidx=`: the payer's page (standing in for pay.khalti.com), with Pay and Cancel;
 *   `POST pay/confirm` → Completed and a redirect to `return_url` with Khalti's query
 *   (pidx, txnId, amount, total_amount, status, mobile, tidx, purchase_order_id,
 *   purchase_order_name, transaction_id); `POST pay/cancel` → "User canceled" and the redirect.
 * - `POST api/v2/epayment/lookup/ {pidx}`: `{ pidx, total_amount, status, transaction_id, fee,
 *   refunded }`, HTTP 400 for Expired and User canceled as Khalti documents, 200 otherwise;
 *   an unknown pidx (or another merchant's) → 404 `{ "detail": "Not found.", "error_key": "validation_error" }`.
 *
 * Control (not Khalti's; for tests): `POST __control/transactions/:pidx {state}` forces any
 * status; `POST __control/transactions/:pidx/expire` makes the link expire now;
 * `GET __control/transactions/:pidx`; outages and delays as in the eSewa simulator.
 */
import { randomInt } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { KHALTI_MINIMUM_PAISA, KHALTI_STATUSES, type KhaltiStatus } from '../khalti.ts';
import { faultControlRoutes, FaultInjector } from './faults.ts';
import { escapeHtml, page } from './html.ts';

/** A key the simulator accepts by default (any string works as long as both sides agree). */
export const KHALTI_SIMULATOR_SECRET_KEY = 'live_secret_key_sadasya_simulator';

export interface KhaltiSimulatorOptions {
  /** Merchant secret keys it accepts; one development key by default. */
  secretKeys?: string[];
  /** Seconds a payment link lives. Default 1800, as in Khalti's sample answer. */
  linkTtlSeconds?: number;
  now?: () => Date;
}

export interface KhaltiSimulatedTransaction {
  pidx: string;
  /** The merchant key that initiated it: another key does not find it. */
  secretKey: string;
  amountPaisa: number;
  purchaseOrderId: string;
  purchaseOrderName: string;
  returnUrl: string;
  websiteUrl: string;
  status: KhaltiStatus;
  transactionId: string | null;
  expiresAt: Date;
}

export interface KhaltiSimulator {
  router: Router;
  transactions: Map<string, KhaltiSimulatedTransaction>;
  faults: FaultInjector;
  force(pidx: string, status: KhaltiStatus): KhaltiSimulatedTransaction;
  expire(pidx: string): KhaltiSimulatedTransaction;
}

const ID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function newId(): string {
  let id = '';
  for (let index = 0; index < 22; index += 1) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** `2023-05-25T16:26:16.471649+05:45`: Khalti's timestamps are Nepal time with microseconds. */
export function nepalTimestamp(moment: Date): string {
  const shifted = new Date(moment.getTime() + (5 * 60 + 45) * 60_000);
  return `${shifted.toISOString().slice(0, 23)}000+05:45`;
}

const LOOKUP_HTTP_STATUS: Record<KhaltiStatus, number> = {
  Completed: 200,
  Pending: 200,
  Initiated: 200,
  Refunded: 200,
  'Partially Refunded': 200,
  Expired: 400,
  'User canceled': 400,
  Failed: 200,
};

const forceRequest = z.object({ state: z.enum(KHALTI_STATUSES) }).strict();

function validUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export function createKhaltiSimulator(options: KhaltiSimulatorOptions = {}): KhaltiSimulator {
  const keys = new Set(options.secretKeys ?? [KHALTI_SIMULATOR_SECRET_KEY]);
  const now = options.now ?? (() => new Date());
  const ttlMs = (options.linkTtlSeconds ?? 1800) * 1000;
  const transactions = new Map<string, KhaltiSimulatedTransaction>();
  const faults = new FaultInjector(() => now().getTime());
  const router = Router();
  const gateway = faults.middleware((response) => response.status(503).json({ detail: 'Service temporarily unavailable.' }));
  const json = express.json({ limit: '32kb' });
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  const current = (transaction: KhaltiSimulatedTransaction): KhaltiSimulatedTransaction => {
    if ((transaction.status === 'Initiated' || transaction.status === 'Pending') && now().getTime() >= transaction.expiresAt.getTime()) transaction.status = 'Expired';
    return transaction;
  };

  const get = (pidx: string): KhaltiSimulatedTransaction => {
    const transaction = transactions.get(pidx);
    if (!transaction) throw new Error(`no Khalti transaction ${pidx}`);
    return transaction;
  };

  const force = (pidx: string, status: KhaltiStatus): KhaltiSimulatedTransaction => {
    const transaction = get(pidx);
    transaction.status = status;
    if (status === 'Completed' || status === 'Refunded' || status === 'Partially Refunded') transaction.transactionId ??= newId();
    return transaction;
  };

  const expire = (pidx: string): KhaltiSimulatedTransaction => {
    const transaction = get(pidx);
    transaction.expiresAt = now();
    return current(transaction);
  };

  /** Khalti's authentication: `Key <secret>` (any case of `Key`). */
  const authenticate = (request: Request, response: Response, next: NextFunction) => {
    const match = /^key\s+(\S+)$/i.exec(request.get('authorization') ?? '');
    if (!match) {
      response.status(401).json({ detail: 'Authentication credentials were not provided.', status_code: 401 });
      return;
    }
    if (!keys.has(match[1] ?? '')) {
      response.status(401).json({ detail: 'Invalid token.', status_code: 401 });
      return;
    }
    response.locals.secretKey = match[1];
    next();
  };

  router.post('/api/v2/epayment/initiate', gateway, authenticate, json, (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const invalid = (field: string, message: string) => response.status(400).json({ [field]: [message], error_key: 'validation_error' });
    for (const field of ['return_url', 'website_url'] as const) {
      if (body[field] === undefined || body[field] === '') return invalid(field, 'This field may not be blank.');
      if (!validUrl(body[field])) return invalid(field, 'Enter a valid URL.');
    }
    const amountText = typeof body.amount === 'number' || typeof body.amount === 'string' ? String(body.amount) : '';
    if (!/^[0-9]+$/.test(amountText) || !Number.isSafeInteger(Number(amountText))) return invalid('amount', 'A valid integer is required.');
    const amountPaisa = Number(amountText);
    if (amountPaisa < KHALTI_MINIMUM_PAISA) return invalid('amount', 'Amount should be greater than Rs. 10, that is 1000 paisa.');
    for (const field of ['purchase_order_id', 'purchase_order_name'] as const) {
      if (typeof body[field] !== 'string' || body[field].trim() === '') return invalid(field, 'This field may not be blank.');
    }
    const pidx = newId();
    const created = now();
    const transaction: KhaltiSimulatedTransaction = {
      pidx,
      secretKey: String(response.locals.secretKey),
      amountPaisa,
      purchaseOrderId: String(body.purchase_order_id),
      purchaseOrderName: String(body.purchase_order_name),
      returnUrl: String(body.return_url),
      websiteUrl: String(body.website_url),
      status: 'Initiated',
      transactionId: null,
      expiresAt: new Date(created.getTime() + ttlMs),
    };
    transactions.set(pidx, transaction);
    const paymentUrl = `${request.protocol}://${request.get('host') ?? 'localhost'}${request.baseUrl}/pay/?pidx=${pidx}`;
    return response.status(200).json({ pidx, payment_url: paymentUrl, expires_at: nepalTimestamp(transaction.expiresAt), expires_in: Math.round(ttlMs / 1000) });
  });

  router.post('/api/v2/epayment/lookup', gateway, authenticate, json, (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body.pidx !== 'string' || body.pidx === '') {
      response.status(400).json({ pidx: ['This field is required.'], error_key: 'validation_error' });
      return;
    }
    const found = transactions.get(body.pidx);
    if (!found || found.secretKey !== response.locals.secretKey) {
      response.status(404).json({ detail: 'Not found.', error_key: 'validation_error' });
      return;
    }
    const transaction = current(found);
    response.status(LOOKUP_HTTP_STATUS[transaction.status]).json({
      pidx: transaction.pidx,
      total_amount: transaction.amountPaisa,
      status: transaction.status,
      transaction_id: transaction.transactionId,
      fee: 0,
      refunded: transaction.status === 'Refunded' || transaction.status === 'Partially Refunded',
    });
  });

  /** The payer's transaction while it can still be paid; otherwise the payer page's 404 or 410, and undefined. */
  const payable = (pidx: string | undefined, response: Response): KhaltiSimulatedTransaction | undefined => {
    const found = pidx === undefined ? undefined : transactions.get(pidx);
    if (!found) {
      response.status(404).type('html').send(page('Khalti (simulator)', '<p>No such payment.</p>'));
      return undefined;
    }
    const transaction = current(found);
    if (transaction.status !== 'Initiated') {
      response.status(410).type('html').send(page('Khalti (simulator)', `<p>This payment is ${escapeHtml(transaction.status)}.</p>`));
      return undefined;
    }
    return transaction;
  };

  router.get('/pay', (request: Request, response: Response) => {
    const pidx = typeof request.query.pidx === 'string' ? request.query.pidx : '';
    const transaction = payable(pidx, response);
    if (!transaction) return;
    const hidden = `<input type="hidden" name="pidx" value="${escapeHtml(pidx)}">`;
    response
      .type('html')
      .send(
        page(
          'Khalti (simulator)',
          `<h1>Khalti (simulator)</h1><p>Pay Rs ${escapeHtml((transaction.amountPaisa / 100).toFixed(2))} for ${escapeHtml(transaction.purchaseOrderName)}?</p>` +
            `<form method="post" action="${escapeHtml(request.baseUrl)}/pay/confirm">${hidden}<button>Pay</button></form>` +
            `<form method="post" action="${escapeHtml(request.baseUrl)}/pay/cancel">${hidden}<button>Cancel</button></form>`,
        ),
      );
  });

  const decide = (decision: 'pay' | 'cancel') => (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const transaction = payable(typeof body.pidx === 'string' ? body.pidx : undefined, response);
    if (!transaction) return;
    if (decision === 'pay') force(transaction.pidx, 'Completed');
    else force(transaction.pidx, 'User canceled');
    const paid = decision === 'pay';
    const target = new URL(transaction.returnUrl);
    const params: [string, string][] = [
      ['pidx', transaction.pidx],
      ...(paid ? ([['txnId', transaction.transactionId ?? '']] as [string, string][]) : []),
      ['transaction_id', paid ? (transaction.transactionId ?? '') : ''],
      ['tidx', paid ? (transaction.transactionId ?? '') : ''],
      ['amount', String(transaction.amountPaisa)],
      ['total_amount', String(transaction.amountPaisa)],
      ['mobile', paid ? '98XXXXX001' : ''],
      ['status', transaction.status],
      ['purchase_order_id', transaction.purchaseOrderId],
      ['purchase_order_name', transaction.purchaseOrderName],
    ];
    for (const [name, value] of params) target.searchParams.set(name, value);
    response.redirect(302, target.href);
  };
  router.post('/pay/confirm', form, decide('pay'));
  router.post('/pay/cancel', form, decide('cancel'));

  const control = Router();
  control.use(express.json({ limit: '4kb' }));
  const withTransaction = (handler: (pidx: string, request: Request, response: Response) => void) => (request: Request, response: Response) => {
    const pidx = String(request.params.pidx);
    if (!transactions.has(pidx)) {
      response.status(404).json({ error: 'no such transaction' });
      return;
    }
    handler(pidx, request, response);
  };
  control.get('/transactions/:pidx', withTransaction((pidx, _request, response) => response.json(current(get(pidx)))));
  control.post('/transactions/:pidx/expire', withTransaction((pidx, _request, response) => response.json(expire(pidx))));
  control.post(
    '/transactions/:pidx',
    withTransaction((pidx, request, response) => {
      const parsed = forceRequest.safeParse(request.body);
      if (!parsed.success) {
        response.status(400).json({ error: parsed.error.message });
        return;
      }
      response.json(force(pidx, parsed.data.state));
    }),
  );
  faultControlRoutes(control, faults);
  router.use('/__control', control);

  return { router, transactions, faults, force, expire };
}
