import { sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError } from '../errors/domain-error.ts';

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

/** A race on an aggregate's stream: retryable, the retry re-reads the stream. */
export class VersionConflictError extends DomainError {
  override readonly name = 'VersionConflictError';
  readonly aggregateId: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(aggregateId: string, expectedVersion: number, actualVersion: number) {
    super('EVENT_VERSION_CONFLICT', `stream ${aggregateId} is at version ${actualVersion}, not ${expectedVersion}`);
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

async function keyUsed(tx: TenantTransaction, idempotencyKey: string): Promise<boolean> {
  return tx.exists(sql.unsafe`SELECT 1 FROM event_store WHERE idempotency_key = ${idempotencyKey}`);
}

/**
 * Appends events at `expectedVersion + 1 ...` in the caller's tenant transaction.
 *
 * One statement in the usual case: the idempotency key and the stream's version are checked
 * inside the INSERT itself. The insert trigger takes the tenant's chain-head lock, held until
 * commit, so a caller that appends as its last statement holds it for this one round trip and
 * the commit. Only when nothing was inserted does a second query tell which check refused it.
 * @returns the stream's new version, and whether anything was appended (false when the
 *   idempotency key had already been used).
 * @throws VersionConflictError when the stream moved on since the caller read it.
 */
export async function appendToStream(tx: TenantTransaction, request: AppendRequest): Promise<{ version: number; appended: boolean }> {
  const key = request.idempotencyKey ?? null;
  if (request.events.length === 0) {
    if (key !== null && (await keyUsed(tx, key))) return { version: await streamVersion(tx, request.aggregateId), appended: false };
    const actual = await streamVersion(tx, request.aggregateId);
    if (actual !== request.expectedVersion) throw new VersionConflictError(request.aggregateId, request.expectedVersion, actual);
    return { version: actual, appended: true };
  }
  const metadata = sql.jsonb(JSON.parse(JSON.stringify(request.metadata)) as Record<string, string>);
  const types = sql.array(request.events.map((e) => e.type), 'text');
  const payloads = sql.array(request.events.map((e) => JSON.stringify(e.payload)), 'jsonb');
  let inserted: number;
  try {
    const result = await tx.query(sql.unsafe`
      INSERT INTO event_store (tenant_id, aggregate_type, aggregate_id, version, event_type, payload, metadata, idempotency_key)
      SELECT ${request.tenantId}, ${request.aggregateType}, ${request.aggregateId}, ${request.expectedVersion} + e.n::int,
             e.type, e.payload, ${metadata}, CASE WHEN e.n = 1 THEN ${key}::text END
      FROM unnest(${types}, ${payloads}) WITH ORDINALITY AS e (type, payload, n)
      WHERE (SELECT coalesce(max(version), 0) FROM event_store WHERE aggregate_id = ${request.aggregateId}) = ${request.expectedVersion}
        AND (${key}::text IS NULL OR NOT EXISTS (SELECT 1 FROM event_store WHERE idempotency_key = ${key}::text))
      ORDER BY e.n`);
    inserted = result.rowCount;
  } catch (err) {
    if (err instanceof UniqueIntegrityConstraintViolationError && err.constraint === 'event_store_stream_version') {
      throw new VersionConflictError(request.aggregateId, request.expectedVersion, await streamVersion(tx, request.aggregateId).catch(() => -1));
    }
    throw err;
  }
  if (inserted === request.events.length) return { version: request.expectedVersion + request.events.length, appended: true };
  if (key !== null && (await keyUsed(tx, key))) return { version: await streamVersion(tx, request.aggregateId), appended: false };
  throw new VersionConflictError(request.aggregateId, request.expectedVersion, await streamVersion(tx, request.aggregateId));
}

export async function readStream(tx: TenantTransaction, aggregateId: string): Promise<readonly StoredEvent[]> {
  return tx.any(sql.type(StoredEventSchema)`
    SELECT position, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId", version,
           event_type AS type, payload, metadata, recorded_at AS "recordedAt"
    FROM event_store WHERE aggregate_id = ${aggregateId} ORDER BY version`);
}

const StreamRow = z.object({
  keyUsed: z.boolean(),
  version: z.number().nullable(),
  type: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()).nullable(),
});

/**
 * A stream's events (type and payload, in version order) and whether an idempotency key has
 * been used in the tenant, in one round trip: what a command needs to decide, or to see that
 * its step already ran.
 */
/**
 * The key a step's events were appended under before its key named the command: such a step
 * counts as done only if its first event is of this type.
 */
export interface FormerKey {
  idempotencyKey: string;
  eventType: string;
}

export async function readStreamForCommand(
  tx: TenantTransaction,
  aggregateId: string,
  idempotencyKey: string,
  formerly?: FormerKey,
): Promise<{ events: { version: number; type: string; payload: Record<string, unknown> }[]; keyUsed: boolean }> {
  const former = formerly
    ? sql.fragment`OR EXISTS (SELECT 1 FROM event_store WHERE idempotency_key = ${formerly.idempotencyKey} AND event_type = ${formerly.eventType})`
    : sql.fragment``;
  const rows = await tx.any(sql.type(StreamRow)`
    SELECT k.used AS "keyUsed", e.version, e.event_type AS type, e.payload
    FROM (SELECT EXISTS (SELECT 1 FROM event_store WHERE idempotency_key = ${idempotencyKey}) ${former} AS used) k
    LEFT JOIN event_store e ON e.aggregate_id = ${aggregateId}
    ORDER BY e.version`);
  const events = rows.flatMap((row) => (row.version === null || row.type === null || row.payload === null ? [] : [{ version: row.version, type: row.type, payload: row.payload }]));
  return { events, keyUsed: rows[0]?.keyUsed ?? false };
}

/** Walks the tenant's hash chain. @returns null when it verifies, else the first broken position. */
export async function verifyEventChain(tx: TenantTransaction, tenantId: string): Promise<{ brokenAt: bigint | null; checked: bigint }> {
  return tx.one(sql.type(z.object({ brokenAt: z.bigint().nullable(), checked: z.bigint() }))`
    SELECT first_broken_position AS "brokenAt", checked FROM verify_event_chain(${tenantId})`);
}
