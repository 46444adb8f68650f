import { DomainError } from '../errors/domain-error.ts';
import { buildEsewaForm, checkEsewaStatus, type EsewaForm } from './gateways/esewa.ts';
import type { GatewayVerification, HttpOptions } from './gateways/gateway.ts';
import { initiateKhaltiPayment, KHALTI_MINIMUM_PAISA, lookupKhaltiPayment } from './gateways/khalti.ts';
import { esewaEndpointsOf, khaltiBaseOf, type GatewayAccount } from './gateway-accounts.ts';
import type { PaymentAttempt } from './payment-attempts.ts';

/** Where the payer's browser goes to pay: a form to POST (eSewa) or a page to open (Khalti). */
export interface GatewayRedirect {
  method: 'GET' | 'POST';
  url: string;
  /** The form's fields, for a POST. */
  fields: Record<string, string> | null;
}

export interface StartedPayment {
  /** What the gateway knows the transaction by: the attempt's id (eSewa), the pidx (Khalti). */
  reference: string;
  redirect: GatewayRedirect;
  /** When the gateway stops taking this payment, if it said (Khalti). */
  expiresAt: Date | null;
}

export interface ReturnUrls {
  /** Where the gateway sends the payer after paying (and Khalti in any case). */
  success: string;
  /** Where eSewa sends the payer who did not pay. */
  failure: string;
  /** The party's site, as Khalti asks for it. */
  website: string;
}

/** The attempt's signed eSewa form: the same fields however often it is built (no I/O, nothing random). */
export function esewaFormOf(account: GatewayAccount, attempt: Pick<PaymentAttempt, 'id' | 'amountMinor'>, urls: Pick<ReturnUrls, 'success' | 'failure'>): EsewaForm {
  return buildEsewaForm({ productCode: account.merchantCode!, secretKey: account.secret }, esewaEndpointsOf(account),
    { amountPaisa: attempt.amountMinor, transactionUuid: attempt.id, successUrl: urls.success, failureUrl: urls.failure });
}

/**
 * Opens the payment with the gateway.
 * @throws GatewayUnavailableError, GatewayRefusedError from the adapters; DomainError
 *   PAYMENT_AMOUNT_MISMATCH for an amount the gateway does not take (Khalti: under Rs 10).
 */
export async function startGatewayPayment(account: GatewayAccount, attempt: Pick<PaymentAttempt, 'id' | 'amountMinor' | 'invoiceId'>, urls: ReturnUrls, http?: HttpOptions): Promise<StartedPayment> {
  if (account.gateway === 'esewa') {
    const form = esewaFormOf(account, attempt, urls);
    return { reference: attempt.id, redirect: { method: 'POST', url: form.action, fields: { ...form.fields } }, expiresAt: null };
  }
  if (attempt.amountMinor < KHALTI_MINIMUM_PAISA) {
    throw new DomainError('PAYMENT_AMOUNT_MISMATCH', `Khalti takes Rs ${KHALTI_MINIMUM_PAISA / 100} or more`, { field: 'gateway' });
  }
  const started = await initiateKhaltiPayment({ secretKey: account.secret }, khaltiBaseOf(account), {
    amountPaisa: attempt.amountMinor, purchaseOrderId: attempt.id, purchaseOrderName: `Membership invoice ${attempt.invoiceId.slice(0, 8)}`,
    returnUrl: urls.success, websiteUrl: urls.website,
  }, http);
  return { reference: started.pidx, redirect: { method: 'GET', url: started.paymentUrl, fields: null }, expiresAt: started.expiresAt };
}

/**
 * Asks the gateway, server to server, what became of the attempt: the only answer that counts.
 * @throws GatewayUnavailableError (retry later), GatewayRefusedError (the account is wrong).
 */
export async function checkGatewayPayment(account: GatewayAccount, attempt: Pick<PaymentAttempt, 'id' | 'amountMinor' | 'reference'>, http?: HttpOptions): Promise<GatewayVerification> {
  if (account.gateway === 'esewa') {
    return checkEsewaStatus({ productCode: account.merchantCode! }, esewaEndpointsOf(account), { transactionUuid: attempt.id, totalPaisa: attempt.amountMinor }, http);
  }
  if (!attempt.reference) throw new DomainError('VALIDATION_FAILED', 'the Khalti payment was never initiated (no pidx)', { field: 'reference' });
  return lookupKhaltiPayment({ secretKey: account.secret }, khaltiBaseOf(account), attempt.reference, http);
}
