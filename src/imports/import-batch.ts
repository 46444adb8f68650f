import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { formatMemberNumber, numberYearOf } from '../members/member-number.ts';
import { encryptField, normalizeEmail, type PersonalField } from '../members/personal-data.ts';
import type { TenantKeys } from '../tenants/keyring.ts';
import { dateIn, importedTermSpan } from '../terms/term-ledger.ts';
import type { AcceptedRow } from './import-validation.ts';

export interface BatchContext {
  keys: TenantKeys;
  importId: string;
  actor: string;
  memberNumberPrefix: string;
  timeZone: string;
  /** When the import started: the registration time of rows without registered_at. */
  startedAt: Date;
  /**
   * What the first term every imported member gets is made of (member_terms, source 'import';
   * importedTermSpan): the import's day in the party's zone and the party's term settings.
   */
  terms: { importDay: string; termLengthMonths: number; calendar: 'BS' | 'AD' };
}

const startYears = new WeakMap<BatchContext, number>();

/** The year a member number carries: the registration year in the party's time zone and calendar. */
function numberYear(context: BatchContext, registeredAt: string | undefined): number {
  const calendar = context.terms.calendar;
  if (registeredAt === undefined) {
    const year = startYears.get(context) ?? numberYearOf(dateIn(context.timeZone, context.startedAt), calendar);
    startYears.set(context, year);
    return year;
  }
  return numberYearOf(registeredAt.length === 10 ? registeredAt : dateIn(context.timeZone, new Date(registeredAt)), calendar);
}

/** Serials of kept numbers written in the party's own format, which the sequence must pass. */
function ownSerials(prefix: string, numbers: readonly string[]): bigint[] {
  const own = new RegExp(`^${prefix}-\\d{4}-[MFO]-(\\d{6,18})$`);
  return numbers.flatMap((number) => {
    const serial = own.exec(number)?.[1];
    return serial === undefined ? [] : [BigInt(serial)];
  });
}

async function drawSerials(tx: TenantTransaction, count: number): Promise<bigint[]> {
  if (count === 0) return [];
  const serials = await tx.manyFirst(sql.type(z.object({ n: z.bigint() }))`SELECT next_member_number() AS n FROM generate_series(1, ${count})`);
  return [...serials].sort((a, b) => (a < b ? -1 : 1));
}

/** Column names and types of a sealed batch row, in tuple order. */
export const BATCH_COLUMNS = [
  ['id', 'uuid'], ['line', 'int4'], ['ward_id', 'uuid'], ['full_name_en', 'text'], ['full_name_ne', 'text'], ['gender', 'text'],
  ['phone_enc', 'bytea'], ['phone_bidx', 'bytea'], ['email_enc', 'bytea'], ['email_bidx', 'bytea'], ['date_of_birth_enc', 'bytea'],
  ['address_enc', 'bytea'], ['citizenship_no_enc', 'bytea'], ['member_number', 'text'], ['registered_at', 'text'],
] as const;

export type BatchTuple = (string | number | Buffer | null)[];
const NUMBER = BATCH_COLUMNS.findIndex(([name]) => name === 'member_number');

/**
 * The rows as tuples in BATCH_COLUMNS order, each with a new member id and its personal
 * fields sealed exactly as sealApplication seals them. member_number is the row's own, or
 * null until numberRows fills it in.
 */
export function sealRows(context: BatchContext, rows: readonly AcceptedRow[]): BatchTuple[] {
  return rows.map(({ line, row, wardId, phoneBidx, emailBidx }) => {
    const id = randomUUID();
    const seal = (field: PersonalField, value: string | undefined) => (value === undefined ? null : encryptField(context.keys, id, field, value));
    return [
      id, line, wardId, row.full_name_en, row.full_name_ne ?? null, row.gender,
      seal('phone', row.phone), phoneBidx, seal('email', row.email === undefined ? undefined : normalizeEmail(row.email)), emailBidx,
      seal('dateOfBirth', row.date_of_birth), seal('address', row.address), seal('citizenshipNo', row.citizenship_no),
      row.member_number ?? null, row.registered_at ?? null,
    ];
  });
}

/** Gives the tuples without a number the serials, in order, formatted as registration formats them. */
export function numberRows(context: BatchContext, rows: readonly AcceptedRow[], tuples: BatchTuple[], serials: readonly bigint[]): void {
  let drawn = 0;
  rows.forEach(({ row }, index) => {
    if (row.member_number !== undefined) return;
    tuples[index]![NUMBER] = formatMemberNumber(context.memberNumberPrefix, numberYear(context, row.registered_at), row.gender, serials[drawn++]!);
  });
}

/**
 * Inserts one batch (sealed by sealRows) as active members of the import, each with its
 * MemberImported event, in the caller's tenant transaction. The events go in with one
 * INSERT ... SELECT: the hash chain's trigger links them in one statement, not one round trip
 * per member.
 * @throws Error when fewer members went in than the batch holds (the transaction must roll back).
 */
export async function insertMemberBatch(tx: TenantTransaction, context: BatchContext, rows: readonly AcceptedRow[], tuples: BatchTuple[]): Promise<void> {
  numberRows(context, rows, tuples, await drawSerials(tx, rows.filter(({ row }) => row.member_number === undefined).length));
  const batch = sql.unnest(tuples, BATCH_COLUMNS.map(([, type]) => type));
  const kept = ownSerials(context.memberNumberPrefix, rows.flatMap(({ row }) => (row.member_number ? [row.member_number] : [])));
  if (kept.length > 0) {
    const highest = kept.reduce((a, b) => (a > b ? a : b));
    await tx.query(sql.unsafe`SELECT advance_member_number_sequence(${highest})`);
  }
  const startedAt = context.startedAt.toISOString();
  const metadata = sql.jsonb({ actor: context.actor, correlationId: context.importId });
  const events = await tx.query(sql.unsafe`
    WITH batch AS (
      SELECT * FROM ${batch} AS b (id, line, ward_id, full_name_en, full_name_ne, gender, phone_enc, phone_bidx, email_enc,
                                   email_bidx, date_of_birth_enc, address_enc, citizenship_no_enc, member_number, registered_at)
    ), wards AS (
      SELECT w.id, w.path, covering_committee(w.id) AS committee_id
      FROM geography_nodes w WHERE w.id IN (SELECT DISTINCT ward_id FROM batch)
    ), inserted AS (
      INSERT INTO members (id, tenant_id, status, ward_id, geography_path, committee_id, full_name_en, full_name_ne, gender,
                           phone_enc, phone_bidx, email_enc, email_bidx, date_of_birth_enc, address_enc, citizenship_no_enc,
                           member_number, member_number_assigned_at, version, registered_at, activated_at, updated_at, import_id)
      SELECT b.id, ${context.keys.tenantId}::uuid, 'active'::member_status, b.ward_id, w.path, w.committee_id, b.full_name_en, b.full_name_ne, b.gender::char(1),
             b.phone_enc, b.phone_bidx, b.email_enc, b.email_bidx, b.date_of_birth_enc, b.address_enc, b.citizenship_no_enc,
             b.member_number, ${startedAt}::timestamptz, 1, r.at, r.at, ${startedAt}::timestamptz, ${context.importId}::uuid
      FROM batch b
      JOIN wards w ON w.id = b.ward_id
      CROSS JOIN LATERAL (SELECT CASE
        WHEN b.registered_at IS NULL THEN ${startedAt}::timestamptz
        WHEN length(b.registered_at) = 10 THEN b.registered_at::date::timestamp AT TIME ZONE ${context.timeZone}::text
        ELSE b.registered_at::timestamptz END AS at) r
      ORDER BY b.line
      RETURNING id, ward_id, committee_id, geography_path, member_number
    )
    INSERT INTO event_store (tenant_id, aggregate_type, aggregate_id, version, event_type, payload, metadata)
    SELECT ${context.keys.tenantId}::uuid, 'Member', i.id, 1, 'MemberImported',
           jsonb_build_object('importId', ${context.importId}::text, 'wardId', i.ward_id, 'committeeId', i.committee_id,
                              'geographyPath', i.geography_path::text, 'memberNumber', i.member_number),
           ${metadata}
    FROM inserted i ORDER BY i.member_number`);
  if (events.rowCount !== rows.length) throw new Error(`a batch of ${rows.length} rows inserted ${events.rowCount} members`);
  const spans = rows.map(({ row }, index) => {
    const registered = row.registered_at === undefined ? null
      : row.registered_at.length === 10 ? row.registered_at : dateIn(context.timeZone, new Date(row.registered_at));
    return [tuples[index]![0] as string, importedTermSpan(context.terms, context.terms.importDay, registered).endsOn];
  });
  await tx.query(sql.unsafe`
    INSERT INTO member_terms (tenant_id, member_id, term_number, starts_on, ends_on, waived, source, idempotency_key, recorded_by)
    SELECT ${context.keys.tenantId}::uuid, m.id, 1, ${context.terms.importDay}::date, m.ends_on, false, 'import',
           'import:' || ${context.importId}::text || ':' || m.id::text, ${context.actor}
    FROM ${sql.unnest(spans, ['uuid', 'date'])} AS m (id, ends_on)`);
}
