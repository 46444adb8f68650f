import { sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';

export interface NewEvent {
  type: string;
  payload: Record<string, unknown>;
}

export interface EventMetadata {
  actor: string;
  workflowId?: string | undefined;
  correlationId?: string | undefined;
  causationId?: string | undefined;
}

export interface AppendRequest {
  tenantId: string;
  aggregateType: string;
  aggregateId: string;
  /** The stream's version the caller decided on; 0 for a new stream. */
  expectedVersion: number;
  events: readonly NewEvent[];
  metadata: EventMetadata;
  /** Makes the append idempotent: a second append with the same key appends nothing. */
  idempotencyKey?: string | undefined;
}

export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  readonly code = 'EVENT_VERSION_CONFLICT';
  readonly aggregateId: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(aggregateId: string, expectedVersion: number, actualVersion: number) {
    super(`stream ${aggregateId} is at version ${actualVersion}, not ${expectedVersion}`);
    this.aggregateId = aggregateId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export const StoredEventSchema = z.object({
  position: z.bigint(),
  aggregateType: z.string(),
  aggregateId: z.string(),
  version: z.number(),
  type: z.string(),
  payload: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.number(),
});
export type StoredEvent = z.infer<typeof StoredEventSchema>;

async function streamVersion(tx: TenantTransaction, aggregateId: string): Promise<number> {
  return tx.oneFirst(sql.type(z.object({ v: z.number() }))`
    SELECT coalesce(max(version), 0)::int AS v FROM event_store WHERE aggregate_id = ${aggregateId}`);
}

/**
 * Appends events at `expectedVersion + 1 ...` in the caller's tenant transaction.
 * @returns the stream's new version, and whether anything was appended (false when the
 *   idempotency key had already been used).
 * @throws VersionConflictError when the stream moved on since the caller read it.
 */
export async function appendToStream(tx: TenantTransaction, request: AppendRequest): Promise<{ version: number; appended: boolean }> {
  if (request.idempotencyKey) {
    const done = await tx.maybeOneFirst(sql.type(z.object({ v: z.number() }))`
      SELECT max(version)::int AS v FROM event_store WHERE idempotency_key = ${request.idempotencyKey} HAVING count(*) > 0`);
    if (done !== null) return { version: await streamVersion(tx, request.aggregateId), appended: false };
  }
  const actual = await streamVersion(tx, request.aggregateId);
  if (actual !== request.expectedVersion) throw new VersionConflictError(request.aggregateId, request.expectedVersion, actual);
  const metadata = sql.jsonb(JSON.parse(JSON.stringify(request.metadata)) as Record<string, string>);
  try {
    for (const [index, event] of request.events.entries()) {
      await tx.query(sql.unsafe`
        INSERT INTO event_store (tenant_id, aggregate_type, aggregate_id, version, event_type, payload, metadata, idempotency_key)
        VALUES (${request.tenantId}, ${request.aggregateType}, ${request.aggregateId}, ${request.expectedVersion + index + 1},
                ${event.type}, ${sql.jsonb(event.payload as never)}, ${metadata},
                ${index === 0 ? (request.idempotencyKey ?? null) : null})`);
    }
  } catch (err) {
    if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'event_store_stream_version') {
      throw new VersionConflictError(request.aggregateId, request.expectedVersion, await streamVersion(tx, request.aggregateId).catch(() => -1));
    }
    throw err;
  }
  return { version: request.expectedVersion + request.events.length, appended: true };
}

export async function readStream(tx: TenantTransaction, aggregateId: string): Promise<readonly StoredEvent[]> {
  return tx.any(sql.type(StoredEventSchema)`
    SELECT position, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId", version,
           event_type AS type, payload, metadata, recorded_at AS "recordedAt"
    FROM event_store WHERE aggregate_id = ${aggregateId} ORDER BY version`);
}

/** Walks the tenant's hash chain. @returns null when it verifies, else the first broken position. */
export async function verifyEventChain(tx: TenantTransaction, tenantId: string): Promise<{ brokenAt: bigint | null; checked: bigint }> {
  return tx.one(sql.type(z.object({ brokenAt: z.bigint().nullable(), checked: z.bigint() }))`
    SELECT first_broken_position AS "brokenAt", checked FROM verify_event_chain(${tenantId})`);
}
