import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

/**
 * Batch reads for the GraphQL API (api/graphql/): each takes many ids and answers in one
 * statement, so a query over a page of members costs a fixed number of round trips whatever
 * the page's size. Rows are the transaction's tenant's (row-level security), geography is shared.
 */

const uuids = (ids: readonly string[]) => sql.array([...ids], 'uuid');

export const GraphGeographySchema = z.object({
  id: z.string(), parentId: z.string().nullable(), type: z.string(), code: z.string(), nameEn: z.string(), nameNe: z.string().nullable(), path: z.string(),
  validFrom: z.string(), validTo: z.string().nullable(),
});
export type GraphGeography = z.infer<typeof GraphGeographySchema>;

export async function geographyByIds(tx: TenantTransaction, ids: readonly string[]): Promise<readonly GraphGeography[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(GraphGeographySchema)`
    SELECT id, parent_id AS "parentId", type::text AS type, code, name_en AS "nameEn", name_ne AS "nameNe", path::text AS path,
           valid_from::text AS "validFrom", valid_to::text AS "validTo"
    FROM geography_nodes WHERE id = ANY(${uuids(ids)})`);
}

export const GraphCommitteeSchema = z.object({ id: z.string(), name: z.string(), geographyId: z.string(), geographyPath: z.string(), dissolved: z.boolean() });
export type GraphCommittee = z.infer<typeof GraphCommitteeSchema>;

const committeeColumns = sql.fragment`
  c.id, c.name, c.geography_id AS "geographyId", g.path::text AS "geographyPath", c.dissolved_at IS NOT NULL AS dissolved`;

export async function committeesByIds(tx: TenantTransaction, ids: readonly string[]): Promise<readonly GraphCommittee[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(GraphCommitteeSchema)`
    SELECT ${committeeColumns} FROM committees c JOIN geography_nodes g ON g.id = c.geography_id WHERE c.id = ANY(${uuids(ids)})`);
}

/** The undissolved committees on these geography nodes (one per node at most). */
export async function committeesOnNodes(tx: TenantTransaction, nodeIds: readonly string[]): Promise<readonly GraphCommittee[]> {
  if (nodeIds.length === 0) return [];
  return tx.any(sql.type(GraphCommitteeSchema)`
    SELECT ${committeeColumns} FROM committees c JOIN geography_nodes g ON g.id = c.geography_id
    WHERE c.geography_id = ANY(${uuids(nodeIds)}) AND c.dissolved_at IS NULL`);
}

/**
 * A page of the tenant's committees in id order, after a cursor id, optionally only those
 * whose node lies in one of some subtrees (a head's areas).
 */
export async function listCommittees(tx: TenantTransaction, options: { limit: number; after?: string | undefined; withinPaths?: string[] | undefined }): Promise<readonly GraphCommittee[]> {
  const where: FragmentSqlToken[] = [sql.fragment`TRUE`];
  if (options.after) where.push(sql.fragment`c.id > ${options.after}::uuid`);
  if (options.withinPaths) {
    where.push(options.withinPaths.length
      ? sql.fragment`g.path <@ ANY(${sql.array(options.withinPaths, 'ltree')})`
      : sql.fragment`FALSE`);
  }
  return tx.any(sql.type(GraphCommitteeSchema)`
    SELECT ${committeeColumns} FROM committees c JOIN geography_nodes g ON g.id = c.geography_id
    WHERE ${sql.join(where, sql.fragment` AND `)} ORDER BY c.id LIMIT ${options.limit}`);
}

export const GraphInvoiceSchema = z.object({
  id: z.string(), memberId: z.string(), purpose: z.string(), status: z.string(), amountMinor: z.coerce.number(), currency: z.string(),
  termNumber: z.number().nullable(), issuedAt: z.number(), dueAt: z.number(), paidAt: z.number().nullable(), voidedAt: z.number().nullable(),
});
export type GraphInvoice = z.infer<typeof GraphInvoiceSchema>;

const invoiceColumns = sql.fragment`
  id, member_id AS "memberId", purpose, status::text AS status, amount_minor AS "amountMinor", currency, term_number AS "termNumber",
  issued_at AS "issuedAt", due_at AS "dueAt", paid_at AS "paidAt", voided_at AS "voidedAt"`;

export async function invoicesByIds(tx: TenantTransaction, ids: readonly string[]): Promise<readonly GraphInvoice[]> {
  if (ids.length === 0) return [];
  return tx.any(sql.type(GraphInvoiceSchema)`SELECT ${invoiceColumns} FROM invoices WHERE id = ANY(${uuids(ids)})`);
}

/** Every invoice of these members, oldest first. */
export async function invoicesOfMembers(tx: TenantTransaction, memberIds: readonly string[]): Promise<readonly GraphInvoice[]> {
  if (memberIds.length === 0) return [];
  return tx.any(sql.type(GraphInvoiceSchema)`
    SELECT ${invoiceColumns} FROM invoices WHERE member_id = ANY(${uuids(memberIds)}) ORDER BY issued_at, id`);
}

export const GraphPaymentSchema = z.object({
  id: z.string(), invoiceId: z.string(), memberId: z.string(), amountMinor: z.coerce.number(), currency: z.string(), provider: z.string(),
  reference: z.string(), paidAt: z.number(), recordedAt: z.number(),
});
export type GraphPayment = z.infer<typeof GraphPaymentSchema>;

/** Every payment against these invoices, in the order they were paid. */
export async function paymentsOfInvoices(tx: TenantTransaction, invoiceIds: readonly string[]): Promise<readonly GraphPayment[]> {
  if (invoiceIds.length === 0) return [];
  return tx.any(sql.type(GraphPaymentSchema)`
    SELECT id, invoice_id AS "invoiceId", member_id AS "memberId", amount_minor AS "amountMinor", currency, provider,
           provider_ref AS reference, paid_at AS "paidAt", recorded_at AS "recordedAt"
    FROM payments WHERE invoice_id = ANY(${uuids(invoiceIds)}) ORDER BY paid_at, id`);
}
