import { sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import type { TenantKeys } from '../tenants/keyring.ts';
import { validToday } from '../geography/validity.ts';
import { decryptField, lookupBlindIndexes } from './personal-data.ts';
import type { SealedApplication } from './sealed-application.ts';

export class UnknownWardError extends DomainError {
  override readonly name = 'UnknownWardError';

  constructor(message: string, options: DomainErrorOptions = {}) {
    super('UNKNOWN_WARD', message, { ...options, field: options.field ?? 'wardId' });
  }
}


const WardRow = z.object({
  path: z.string(),
  /** Active and within its validity dates today, in the party's time zone. */
  choosable: z.boolean(),
  committeeId: z.string().nullable(),
  existing: z.boolean(),
  phoneHolder: z.string().nullable(),
  emailHolder: z.string().nullable(),
});

/** Finds the active member whose phone has this normalized value, by blind index (current key, and the previous one during a re-index). */
export async function findMemberIdByPhone(tx: TenantTransaction, keys: TenantKeys, phone: string): Promise<string | null> {
  return tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM members WHERE phone_bidx = ANY(${sql.array(lookupBlindIndexes(keys, 'phone', phone), 'bytea')}) LIMIT 1`);
}

const bin = (value: string | null) => (value === null ? null : sql.binary(Buffer.from(value, 'base64')));
const hex = (value: string | undefined) => (value === undefined ? null : sql.binary(Buffer.from(value, 'hex')));

export type ApplicantRecord =
  | { outcome: 'recorded'; inserted: boolean; geographyPath: string; committeeId: string | null }
  /** The phone or email already belongs to another member or applicant of the party: nothing was written. */
  | { outcome: 'taken'; contact: 'phone' | 'email'; holderId: string; geographyPath: string; committeeId: string | null };

/**
 * Records a sealed application. Idempotent on the member id (a retry writes nothing). A phone
 * or email another member holds, found before the insert or by the unique index when a
 * concurrent application took it first, comes back as `taken`, never as an error to retry.
 * @throws UnknownWardError
 */
export async function insertApplicant(tx: TenantTransaction, application: SealedApplication, workflowId: string, registeredAt = new Date().toISOString()): Promise<ApplicantRecord> {
  const ward = await readWard(tx, application);
  // A retry of a recorded application stays recorded even if the ward was retired meanwhile.
  if (!ward || (!ward.existing && !ward.choosable)) {
    throw new UnknownWardError(`ward ${application.wardId} does not exist or is not valid today`);
  }
  const place = { geographyPath: ward.path, committeeId: ward.committeeId };
  if (ward.existing) return { outcome: 'recorded', inserted: false, ...place };
  const taken = takenContact(ward);
  if (taken) return { ...taken, ...place };
  try {
    // A savepoint: a unique violation rolls back the insert alone, and the transaction goes on.
    await tx.transaction((savepoint) => savepoint.query(sql.unsafe`
      INSERT INTO members (id, tenant_id, status, ward_id, geography_path, committee_id, full_name_en, full_name_ne, gender,
                           phone_enc, phone_bidx, email_enc, email_bidx, date_of_birth_enc, address_enc, citizenship_no_enc,
                           workflow_id, status_token_hash, application_digest, registered_at)
      VALUES (${application.memberId}, ${application.tenantId}, 'awaiting_approval', ${application.wardId}, ${ward.path}::ltree,
              ${ward.committeeId}, ${application.fullNameEn}, ${application.fullNameNe}, ${application.gender},
              ${bin(application.phoneEnc)}, ${bin(application.phoneBidx)}, ${bin(application.emailEnc)}, ${bin(application.emailBidx)},
              ${bin(application.dateOfBirthEnc)}, ${bin(application.addressEnc)}, ${bin(application.citizenshipNoEnc)},
              ${workflowId}, ${sql.binary(Buffer.from(application.statusTokenHash, 'hex'))}, ${hex(application.digest)}, ${registeredAt})`));
  } catch (err) {
    if (!(err instanceof UniqueIntegrityConstraintViolationError)) throw err;
    // Another attempt of this same step may have committed the row meanwhile: then it is recorded.
    const now = await readWard(tx, application) ?? ward;
    if (now.existing) return { outcome: 'recorded', inserted: false, ...place };
    const raced = takenContact(now);
    if (!raced) throw err;
    return { ...raced, ...place };
  }
  return { outcome: 'recorded', inserted: true, ...place };
}

/** One round trip: the ward, and whether this member, its phone or its email is already there. */
function readWard(tx: TenantTransaction, application: SealedApplication) {
  return tx.maybeOne(sql.type(WardRow)`
    SELECT g.path::text AS path, ${validToday('g')} AS choosable, covering_committee(g.id) AS "committeeId",
           EXISTS (SELECT 1 FROM members WHERE id = ${application.memberId}) AS existing,
           (SELECT id FROM members WHERE phone_bidx IN (${bin(application.phoneBidx)}, ${bin(application.phoneBidxPrevious ?? null)}) AND id <> ${application.memberId} LIMIT 1) AS "phoneHolder",
           (SELECT id FROM members WHERE email_bidx IN (${bin(application.emailBidx)}, ${bin(application.emailBidxPrevious ?? null)}) AND id <> ${application.memberId} LIMIT 1) AS "emailHolder"
    FROM geography_nodes g WHERE g.id = ${application.wardId} AND g.type = 'ward'`);
}

function takenContact(ward: z.infer<typeof WardRow>): { outcome: 'taken'; contact: 'phone' | 'email'; holderId: string } | null {
  if (ward.phoneHolder) return { outcome: 'taken', contact: 'phone', holderId: ward.phoneHolder };
  if (ward.emailHolder) return { outcome: 'taken', contact: 'email', holderId: ward.emailHolder };
  return null;
}

const ContactRow = z.object({ phone: z.instanceof(Buffer), email: z.instanceof(Buffer).nullable() });

/** Decrypts the member's phone and email, for sending them mail. */
export async function readContact(tx: TenantTransaction, keys: TenantKeys, memberId: string): Promise<{ phone: string; email: string | null }> {
  const row = await tx.one(sql.type(ContactRow)`SELECT phone_enc AS phone, email_enc AS email FROM members WHERE id = ${memberId}`);
  return {
    phone: decryptField(keys, memberId, 'phone', row.phone),
    email: row.email ? decryptField(keys, memberId, 'email', row.email) : null,
  };
}
