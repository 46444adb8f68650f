import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import { partyGateways } from '../../src/payments/gateway-accounts.ts';
import { onlinePaymentProviders, openInvoiceOf } from '../../src/payments/open-invoice.ts';
import type { ResourceObject } from '../http/jsonapi.ts';

/**
 * The member's open invoice as the status link shows it: what to pay, by when, and how — the
 * providers the party takes payments through online (each asks for the invoice id as the
 * reference) or in person, where a treasurer records the payment against the same reference.
 */
export async function applicantInvoice(tx: TenantTransaction, memberId: string): Promise<ResourceObject | null> {
  const invoice = await openInvoiceOf(tx, memberId);
  if (!invoice) return null;
  return {
    type: 'invoices',
    id: invoice.id,
    attributes: {
      purpose: invoice.purpose, amountMinor: invoice.amountMinor, currency: invoice.currency,
      issuedAt: new Date(invoice.issuedAt).toISOString(), dueAt: new Date(invoice.dueAt).toISOString(), termNumber: invoice.termNumber,
      howToPay: {
        reference: invoice.id, online: await onlinePaymentProviders(tx), inPerson: true,
        // Paid from the status link itself: POST …/payments with one of these.
        gateways: invoice.currency === 'NPR' ? (await partyGateways(tx)).map((g) => g.gateway) : [],
      },
    },
  };
}
