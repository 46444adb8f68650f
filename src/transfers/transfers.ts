import { sql } from 'slonik';
import { z } from 'zod';
import { revokeCurrentCard } from '../cards/card-revocation.ts';
import { exactTime } from '../db/exact-time.ts';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { validToday } from '../geography/validity.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import type { ErrorCode } from '../errors/error-codes.ts';
import { transferRefusal } from '../members/admission-rules.ts';
import { MemberRuleError } from '../members/member-aggregate.ts';
import { UnknownWardError } from '../members/member-repository.ts';
import { executeMemberCommand, loadMember } from '../members/member-store.ts';
import { transferWorkflowId, type TransferRefusalReason, type TransferStatus } from './transfer-contract.ts';

export class TransferError extends DomainError {
  override readonly name = 'TransferError';

  constructor(code: ErrorCode, message: string, options?: DomainErrorOptions) {
    super(code, message, options);
  }
}

export const TransferViewSchema = z.object({
  id: z.string(),
  memberId: z.string(),
  seq: z.number(),
  fromWardId: z.string(),
  toWardId: z.string(),
  requestedVia: z.enum(['link', 'staff']),
  requestedBy: z.string(),
  requestedAt: z.number(),
  decidesAt: z.number(),
  workflowId: z.string(),
  status: z.enum(['requested', 'accepted', 'refused', 'cancelled']),
  acceptedBy: z.string().nullable(),
  refusedBy: z.string().nullable(),
  refusalReason: z.string().nullable(),
  decidedAt: z.number().nullable(),
  /** The destination ward's path: who may decide depends on it. */
  toPath: z.string(),
});
export type TransferView = z.infer<typeof TransferViewSchema>;

const columns = sql.fragment`
  t.id, t.member_id AS "memberId", t.seq, t.from_ward_id AS "fromWardId", t.to_ward_id AS "toWardId",
  t.requested_via AS "requestedVia", t.requested_by AS "requestedBy", t.requested_at AS "requestedAt", t.decides_at AS "decidesAt",
  t.workflow_id AS "workflowId", t.status, t.accepted_by AS "acceptedBy", t.refused_by AS "refusedBy",
  t.refusal_reason AS "refusalReason", t.decided_at AS "decidedAt", g.path::text AS "toPath"`;

export async function findTransfer(tx: TenantTransaction, transferId: string): Promise<TransferView | null> {
  return tx.maybeOne(sql.type(TransferViewSchema)`
    SELECT ${columns} FROM member_transfers t JOIN geography_nodes g ON g.id = t.to_ward_id WHERE t.id = ${transferId}`);
}

/** A member's transfers, oldest first. */
export async function memberTransfers(tx: TenantTransaction, memberId: string): Promise<readonly TransferView[]> {
  return tx.any(sql.type(TransferViewSchema)`
    SELECT ${columns} FROM member_transfers t JOIN geography_nodes g ON g.id = t.to_ward_id WHERE t.member_id = ${memberId} ORDER BY t.seq`);
}

const Ward = z.object({ path: z.string() });

/**
 * A ward a member may move to today (in the party's time zone): a ward of the tree, active,
 * within its validity dates. @throws UnknownWardError naming `toWardId`.
 */
async function validWard(tx: TenantTransaction, wardId: string): Promise<z.infer<typeof Ward>> {
  const ward = await tx.maybeOne(sql.type(Ward)`
    SELECT g.path::text AS path FROM geography_nodes g
    WHERE g.id = ${wardId} AND g.type = 'ward' AND ${validToday('g')}`);
  if (!ward) throw new UnknownWardError(`ward ${wardId} does not exist or is not valid today`, { field: 'toWardId' });
  return ward;
}

export interface TransferRequest {
  transferId: string;
  tenantId: string;
  memberId: string;
  toWardId: string;
  via: 'link' | 'staff';
  /** `user:<id>` for staff, `member` for the member's own link. */
  requestedBy: string;
}

const Opening = z.object({ wardId: z.string(), seq: z.number(), open: z.boolean(), decidesAt: z.number() });

/**
 * Records a transfer request, in the caller's tenant transaction: the row, its workflow id, and
 * a MemberTransferRequested event. The member's row is locked, so two requests queue and the
 * second finds the first open.
 * @returns the transfer; null when the member is not in the tenant.
 * @throws MemberRuleError MEMBER_NOT_ACTIVE; TransferError TRANSFER_ALREADY_OPEN, TRANSFER_SAME_WARD; UnknownWardError.
 */
export async function openTransfer(tx: TenantTransaction, request: TransferRequest): Promise<TransferView | null> {
  // The lock first, alone; then a read in a statement of its own, which sees what a request
  // committed while this one waited for the lock.
  const found = await tx.maybeOne(sql.type(z.object({ id: z.string() }))`SELECT id FROM members WHERE id = ${request.memberId} FOR UPDATE`);
  if (!found) return null;
  const opening = await tx.one(sql.type(Opening)`
    SELECT m.ward_id AS "wardId",
           coalesce((SELECT max(seq) FROM member_transfers WHERE member_id = m.id), 0) + 1 AS seq,
           EXISTS (SELECT 1 FROM member_transfers WHERE member_id = m.id AND status = 'requested') AS open,
           clock_timestamp() + (SELECT transfer_window FROM tenants WHERE id = m.tenant_id) AS "decidesAt"
    FROM members m WHERE m.id = ${request.memberId}`);
  const state = await loadMember(tx, request.memberId);
  const refusal = transferRefusal(state);
  if (refusal) throw new MemberRuleError(refusal.code, refusal.message);
  if (opening.open) throw new TransferError('TRANSFER_ALREADY_OPEN', 'the member already has a transfer waiting for its decision');
  await validWard(tx, request.toWardId);
  if (opening.wardId === request.toWardId) throw new TransferError('TRANSFER_SAME_WARD', 'the member is already in this ward', { field: 'toWardId' });
  const workflowId = transferWorkflowId(request.tenantId, request.memberId, opening.seq);
  await executeMemberCommand(tx, { tenantId: request.tenantId, memberId: request.memberId, metadata: { actor: request.requestedBy, workflowId }, idempotencyKey: `${workflowId}:request` },
    { type: 'RequestTransfer', transferId: request.transferId, fromWardId: opening.wardId, toWardId: request.toWardId },
    async () => {
      await tx.query(sql.unsafe`
        INSERT INTO member_transfers (id, tenant_id, member_id, seq, from_ward_id, to_ward_id, requested_via, requested_by, decides_at, workflow_id)
        VALUES (${request.transferId}, ${request.tenantId}, ${request.memberId}, ${opening.seq}, ${opening.wardId}, ${request.toWardId},
                ${request.via}, ${request.requestedBy}, ${new Date(opening.decidesAt).toISOString()}, ${workflowId})`);
    });
  return findTransfer(tx, request.transferId);
}

const Locked = z.object({ status: z.enum(['requested', 'accepted', 'refused', 'cancelled']), memberId: z.string(), fromWardId: z.string(), toWardId: z.string(), workflowId: z.string() });

async function lockTransfer(tx: TenantTransaction, transferId: string) {
  const row = await tx.maybeOne(sql.type(Locked)`
    SELECT status, member_id AS "memberId", from_ward_id AS "fromWardId", to_ward_id AS "toWardId", workflow_id AS "workflowId"
    FROM member_transfers WHERE id = ${transferId} FOR UPDATE`);
  if (!row) throw new TransferError('TRANSFER_NOT_FOUND', `no transfer ${transferId}`);
  return row;
}

async function close(tx: TenantTransaction, transferId: string, status: TransferStatus, set: { acceptedBy?: string; refusedBy?: string; reason?: string }) {
  await tx.query(sql.unsafe`
    UPDATE member_transfers SET status = ${status}, decided_at = clock_timestamp(), accepted_by = ${set.acceptedBy ?? null},
           refused_by = ${set.refusedBy ?? null}, refusal_reason = ${set.reason ?? null}
    WHERE id = ${transferId}`);
}

/**
 * Accepts a transfer, in the caller's one tenant transaction: the member's card naming the old
 * ward is revoked (`superseded`), the member's ward, path and covering committee change (the
 * number is kept; statistics move by the members trigger, search reads the row), the transfer
 * is closed, and MemberTransferred is appended; the audit triggers record the rows. A transfer
 * already accepted is left as it is. A member no longer active, or a ward no longer valid, ends
 * the transfer `cancelled` instead.
 * @throws TransferError TRANSFER_NOT_FOUND; TRANSFER_DECIDED when it was refused.
 */
export async function acceptTransfer(tx: TenantTransaction, tenantId: string, transferId: string, acceptedBy: string, actor: string): Promise<TransferStatus> {
  const transfer = await lockTransfer(tx, transferId);
  if (transfer.status === 'accepted' || transfer.status === 'cancelled') return transfer.status;
  if (transfer.status !== 'requested') throw new TransferError('TRANSFER_DECIDED', `the transfer is already ${transfer.status}`);
  const state = await loadMember(tx, transfer.memberId);
  const ward = await validWard(tx, transfer.toWardId).catch(() => null);
  if (transferRefusal(state) || !ward) {
    await close(tx, transferId, 'cancelled', {});
    return 'cancelled';
  }
  await revokeCurrentCard(tx, tenantId, transfer.memberId, 'superseded', actor, transfer.workflowId);
  await executeMemberCommand(tx, { tenantId, memberId: transfer.memberId, metadata: { actor, workflowId: transfer.workflowId }, idempotencyKey: `${transfer.workflowId}:accept` },
    { type: 'Transfer', transferId, fromWardId: transfer.fromWardId, toWardId: transfer.toWardId },
    async () => {
      await tx.query(sql.unsafe`
        UPDATE members SET ward_id = ${transfer.toWardId}, geography_path = ${ward.path}::ltree, committee_id = covering_committee(${transfer.toWardId})
        WHERE id = ${transfer.memberId}`);
      await close(tx, transferId, 'accepted', { acceptedBy });
    });
  return 'accepted';
}

/**
 * Refuses a transfer with a reason code: the row is closed and MemberTransferRefused appended.
 * A transfer already refused is left as it is.
 * @throws TransferError TRANSFER_NOT_FOUND; TRANSFER_DECIDED when it was accepted.
 */
export async function refuseTransfer(tx: TenantTransaction, tenantId: string, transferId: string, refusedBy: string, reason: TransferRefusalReason, actor: string): Promise<TransferStatus> {
  const transfer = await lockTransfer(tx, transferId);
  if (transfer.status === 'refused' || transfer.status === 'cancelled') return transfer.status;
  if (transfer.status !== 'requested') throw new TransferError('TRANSFER_DECIDED', `the transfer is already ${transfer.status}`);
  await executeMemberCommand(tx, { tenantId, memberId: transfer.memberId, metadata: { actor, workflowId: transfer.workflowId }, idempotencyKey: `${transfer.workflowId}:refuse` },
    { type: 'RefuseTransfer', transferId, reasonCode: reason },
    () => close(tx, transferId, 'refused', { refusedBy, reason }));
  return 'refused';
}

const WardNames = z.object({ fromWard: z.string(), toWard: z.string(), fromCommittee: z.string().nullable(), toCommittee: z.string().nullable(), memberNumber: z.string().nullable() });

/** The names a transfer's emails show, and the committees covering its two wards (today). */
export async function transferPlaces(tx: TenantTransaction, transferId: string): Promise<z.infer<typeof WardNames> | null> {
  return tx.maybeOne(sql.type(WardNames)`
    SELECT f.name_en AS "fromWard", d.name_en AS "toWard", covering_committee(t.from_ward_id) AS "fromCommittee",
           covering_committee(t.to_ward_id) AS "toCommittee", m.member_number AS "memberNumber"
    FROM member_transfers t JOIN geography_nodes f ON f.id = t.from_ward_id JOIN geography_nodes d ON d.id = t.to_ward_id
      JOIN members m ON m.id = t.member_id
    WHERE t.id = ${transferId}`);
}

export interface TransferSearch {
  status?: TransferStatus | undefined;
  /** Only transfers whose destination lies inside one of these subtrees (a head's areas: the transfers they decide). */
  toWithinPaths?: readonly string[] | undefined;
  after?: { requestedAt: string; id: string } | undefined;
  limit: number;
}

const ListedTransferSchema = TransferViewSchema.extend({ position: z.string() });

/** The party's transfers, oldest request first (who has waited longest), one keyset page; `position`: the exact request time, for the next page. */
export async function searchTransfers(tx: TenantTransaction, search: TransferSearch): Promise<readonly z.infer<typeof ListedTransferSchema>[]> {
  const where = [sql.fragment`TRUE`];
  if (search.status) where.push(sql.fragment`t.status = ${search.status}`);
  if (search.toWithinPaths) {
    where.push(search.toWithinPaths.length ? sql.fragment`g.path <@ ANY(${sql.array([...search.toWithinPaths], 'ltree')})` : sql.fragment`FALSE`);
  }
  if (search.after) {
    const at = sql.fragment`${search.after.requestedAt}::timestamptz`;
    where.push(sql.fragment`t.requested_at >= ${at} AND (t.requested_at > ${at} OR t.id > ${search.after.id}::uuid)`);
  }
  return tx.any(sql.type(ListedTransferSchema)`
    SELECT ${columns}, ${exactTime(sql.fragment`t.requested_at`)} AS position FROM member_transfers t JOIN geography_nodes g ON g.id = t.to_ward_id
    WHERE ${sql.join(where, sql.fragment` AND `)}
    ORDER BY t.requested_at, t.id LIMIT ${search.limit}`);
}
