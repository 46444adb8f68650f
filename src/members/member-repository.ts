import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { DomainError, type DomainErrorOptions } from '../errors/domain-error.ts';
import type { TenantKeys } from '../tenants/keyring.ts';
import { blindIndex, decryptField } from './personal-data.ts';
import type { SealedApplication } from './sealed-application.ts';

export class UnknownWardError extends DomainError {
  override readonly name = 'UnknownWardError';

  constructor(message: string, options: DomainErrorOptions = {}) {
    super('UNKNOWN_WARD', message, { ...options, field: options.field ?? 'wardId' });
  }
}

export class DuplicatePhoneError extends DomainError {
  override readonly name = 'DuplicatePhoneError';

  constructor(message: string, options: DomainErrorOptions = {}) {
    super('DUPLICATE_PHONE', message, { ...options, field: options.field ?? 'phone' });
  }
}

const WardRow = z.object({ path: z.string(), committeeId: z.string().nullable(), existing: z.boolean(), phoneTaken: z.boolean() });

/** Finds the active member whose phone has this normalized value, by blind index. */
export async function findMemberIdByPhone(tx: TenantTransaction, keys: TenantKeys, phone: string): Promise<string | null> {
  return tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM members WHERE phone_bidx = ${sql.binary(blindIndex(keys, 'phone', phone))}`);
}

const bin = (value: string | null) => (value === null ? null : sql.binary(Buffer.from(value, 'base64')));

/**
 * Records a sealed application. Idempotent on the member id (a retry writes nothing).
 * @throws UnknownWardError, DuplicatePhoneError
 */
export async function insertApplicant(
  tx: TenantTransaction,
  application: SealedApplication,
  workflowId: string,
): Promise<{ inserted: boolean; geographyPath: string; committeeId: string | null }> {
  // One round trip: the ward, and whether this member or its phone is already there.
  const ward = await tx.maybeOne(sql.type(WardRow)`
    SELECT path::text AS path, covering_committee(id) AS "committeeId",
           EXISTS (SELECT 1 FROM members WHERE id = ${application.memberId}) AS existing,
           EXISTS (SELECT 1 FROM members WHERE phone_bidx = ${bin(application.phoneBidx)}) AS "phoneTaken"
    FROM geography_nodes WHERE id = ${application.wardId} AND type = 'ward' AND is_active`);
  if (!ward) throw new UnknownWardError(`ward ${application.wardId} does not exist or is not active`);
  if (ward.existing) return { inserted: false, geographyPath: ward.path, committeeId: ward.committeeId };
  if (ward.phoneTaken) throw new DuplicatePhoneError('a member with this phone number already exists');
  await tx.query(sql.unsafe`
    INSERT INTO members (id, tenant_id, status, ward_id, geography_path, committee_id, full_name_en, full_name_ne, gender,
                         phone_enc, phone_bidx, email_enc, email_bidx, date_of_birth_enc, address_enc, citizenship_no_enc,
                         workflow_id, status_token_hash)
    VALUES (${application.memberId}, ${application.tenantId}, 'awaiting_approval', ${application.wardId}, ${ward.path}::ltree,
            ${ward.committeeId}, ${application.fullNameEn}, ${application.fullNameNe}, ${application.gender},
            ${bin(application.phoneEnc)}, ${bin(application.phoneBidx)}, ${bin(application.emailEnc)}, ${bin(application.emailBidx)},
            ${bin(application.dateOfBirthEnc)}, ${bin(application.addressEnc)}, ${bin(application.citizenshipNoEnc)},
            ${workflowId}, ${sql.binary(Buffer.from(application.statusTokenHash, 'hex'))})`);
  return { inserted: true, geographyPath: ward.path, committeeId: ward.committeeId };
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
