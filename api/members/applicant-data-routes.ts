import { z } from 'zod';
import { slug } from '../../src/validation/fields.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { findConsent } from '../../src/members/eligibility.ts';
import { decryptField, type PersonalField } from '../../src/members/personal-data.ts';
import { invoicesOfMember, paymentsOfMember } from '../../src/payments/invoice-queries.ts';
import { findCurrentCard } from '../../src/cards/card-store.ts';
import type { ApiDeps } from '../deps.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { invoiceResource } from '../payments/invoice-routes.ts';
import { paymentDocument } from '../payments/payment-document.ts';
import { heldApplication, statusResource, StatusToken } from './registration-routes.ts';

const PersonalData = z.object({
  party: z.object({ slug: z.string(), name: z.string() }),
  application: z.object({
    fullNameEn: z.string(), fullNameNe: z.string().nullable(), gender: z.string(),
    phone: z.string().nullable(), email: z.string().nullable(), dateOfBirth: z.string().nullable(), address: z.string().nullable(), citizenshipNo: z.string().nullable(),
    wardId: z.string(), wardName: z.object({ en: z.string(), ne: z.string().nullable() }), committeeName: z.string().nullable(),
  }),
  status: z.record(z.string(), z.unknown()).describe('the status resource\'s attributes, as the status link shows them'),
  consent: z.object({ noticeVersion: z.string(), language: z.string(), declarations: z.array(z.string()), consentedAt: z.string() }).nullable()
    .describe('the declarations and consent given with the application; null for members registered before they were asked'),
  invoices: z.array(z.unknown()),
  payments: z.array(z.unknown()),
  card: z.object({ memberNumber: z.string() }).nullable().describe('the current ID card, if one is issued'),
});

/**
 * The applicant reads what the party holds about them (Individual Privacy Act 2075), through
 * the same private link as their status: a refused application answers in the same shape as a
 * recorded one, so the link never tells its holder that the application was refused.
 */
export function applicantDataRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'keyring'>): void {
  registry.add({
    method: 'get',
    path: '/api/parties/:slug/applications/:id/data',
    summary: 'What the party holds about the applicant, through their private status link: as JSON, or as a file to download (download=true)',
    tag: 'applications',
    access: 'public',
    params: z.object({ slug, id: z.uuid() }),
    query: StatusToken.extend({ download: z.enum(['true', 'false']).optional().describe('true: answered as an attachment (my-data-<id>.json)') }),
    responses: {
      200: { description: "the applicant's personal data, consent, invoices, payments and card", schema: responseDocument('personal-data', PersonalData) },
      404: { description: 'no application under this link (an unknown id and a wrong token answer alike)' },
    },
    async handler({ params, query }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const held = await heldApplication(deps, tenant.id, params.id, query.token);
      const record = held.member ?? held.refusal!;
      const attributes = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'applicant' }, async (tx) => {
        const keys = await deps.keyring.forTenant(tx, tenant.id);
        const open = (field: PersonalField, sealed: Buffer | null) => (sealed ? decryptField(keys, params.id, field, sealed) : null);
        const consent = await findConsent(tx, params.id);
        // Asked for a refused application too (it has none): the answer costs the same.
        const invoices = await invoicesOfMember(tx, params.id);
        const payments = await paymentsOfMember(tx, params.id);
        const card = await findCurrentCard(tx, params.id);
        return {
          party: { slug: tenant.slug, name: tenant.name },
          application: {
            fullNameEn: record.fullNameEn, fullNameNe: record.fullNameNe, gender: record.gender,
            phone: open('phone', record.phoneEnc), email: open('email', record.emailEnc), dateOfBirth: open('dateOfBirth', record.dateOfBirthEnc),
            address: open('address', record.addressEnc), citizenshipNo: open('citizenshipNo', record.citizenshipNoEnc),
            wardId: record.wardId, wardName: held.place.wardName, committeeName: held.place.committeeName,
          },
          status: statusResource(held).attributes,
          consent: consent && { ...consent, consentedAt: new Date(consent.consentedAt).toISOString() },
          invoices: invoices.map(invoiceResource),
          payments: payments.map((p) => paymentDocument(p).data),
          card: card && { memberNumber: card.memberNumber },
        };
      });
      const headers: Record<string, string> = { 'cache-control': 'no-store' };
      if (query.download === 'true') headers['content-disposition'] = `attachment; filename="my-data-${params.id}.json"`;
      return { status: 200, headers, body: { data: { type: 'personal-data', id: params.id, attributes } } };
    },
  });
}
