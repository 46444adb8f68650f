import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import type { SealedApplication } from './sealed-application.ts';

/**
 * Applications that could not proceed because their phone or email already belongs to
 * someone in the party (migrations/0018). The applicant was answered as if recorded; this
 * row is what their status link finds, and how the contact's holder was told.
 */
export interface NewRefusal {
  application: SealedApplication;
  workflowId: string;
  contact: 'phone' | 'email';
  holderId: string;
  committeeId: string | null;
  refusedAt: string;
}

const sealed = (base64: string | null) => (base64 === null ? null : sql.binary(Buffer.from(base64, 'base64')));

/** Records the refusal once: a retried step finds it. */
export async function recordRefusal(tx: TenantTransaction, refusal: NewRefusal): Promise<void> {
  const { application } = refusal;
  await tx.query(sql.unsafe`
    INSERT INTO registration_refusals (id, tenant_id, workflow_id, status_token_hash, full_name_en, full_name_ne, gender, ward_id,
                                       committee_id, contact, holder_id, application_digest, refused_at,
                                       phone_enc, email_enc, date_of_birth_enc, address_enc, citizenship_no_enc)
    VALUES (${application.memberId}, ${application.tenantId}, ${refusal.workflowId}, ${sql.binary(Buffer.from(application.statusTokenHash, 'hex'))},
            ${application.fullNameEn}, ${application.fullNameNe}, ${application.gender}, ${application.wardId}, ${refusal.committeeId},
            ${refusal.contact}, ${refusal.holderId},
            ${application.digest === undefined ? null : sql.binary(Buffer.from(application.digest, 'hex'))}, ${refusal.refusedAt},
            ${sealed(application.phoneEnc)}, ${sealed(application.emailEnc)}, ${sealed(application.dateOfBirthEnc)}, ${sealed(application.addressEnc)},
            ${sealed(application.citizenshipNoEnc)})
    ON CONFLICT (id) DO NOTHING`);
}

const RefusalSchema = z.object({
  id: z.string(),
  fullNameEn: z.string(),
  fullNameNe: z.string().nullable(),
  gender: z.string(),
  wardId: z.string(),
  committeeId: z.string().nullable(),
  refusedAt: z.number(),
  statusTokenHash: z.instanceof(Buffer),
  applicationDigest: z.instanceof(Buffer).nullable(),
  withdrawnAt: z.number().nullable(),
  phoneEnc: z.instanceof(Buffer).nullable(),
  emailEnc: z.instanceof(Buffer).nullable(),
  dateOfBirthEnc: z.instanceof(Buffer).nullable(),
  addressEnc: z.instanceof(Buffer).nullable(),
  citizenshipNoEnc: z.instanceof(Buffer).nullable(),
});
export type RegistrationRefusal = z.infer<typeof RefusalSchema>;

export async function findRefusal(tx: TenantTransaction, id: string): Promise<RegistrationRefusal | null> {
  return tx.maybeOne(sql.type(RefusalSchema)`
    SELECT id, full_name_en AS "fullNameEn", full_name_ne AS "fullNameNe", gender, ward_id AS "wardId",
           committee_id AS "committeeId", refused_at AS "refusedAt",
           status_token_hash AS "statusTokenHash", application_digest AS "applicationDigest", withdrawn_at AS "withdrawnAt",
           phone_enc AS "phoneEnc", email_enc AS "emailEnc", date_of_birth_enc AS "dateOfBirthEnc", address_enc AS "addressEnc", citizenship_no_enc AS "citizenshipNoEnc"
    FROM registration_refusals WHERE id = ${id}`);
}

/**
 * Marks a refused application withdrawn through its status link, once.
 * @returns false when it was withdrawn already.
 */
export async function withdrawRefusal(tx: TenantTransaction, id: string): Promise<boolean> {
  const { rowCount } = await tx.query(sql.unsafe`UPDATE registration_refusals SET withdrawn_at = now() WHERE id = ${id} AND withdrawn_at IS NULL`);
  return rowCount === 1;
}

/** How the contact's holder was told: by email now, by SMS when a gateway sends what waits, or not at all. */
export async function recordNotice(tx: TenantTransaction, id: string, channel: 'email' | 'sms' | 'none'): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE registration_refusals SET notice_channel = ${channel}, notice_sent_at = CASE WHEN ${channel} = 'email' THEN now() END
    WHERE id = ${id}`);
}

/** Whether the holder was already told of another application in the last day: one notice a day is enough. */
export async function noticedRecently(tx: TenantTransaction, holderId: string, exceptId: string): Promise<boolean> {
  return tx.exists(sql.unsafe`
    SELECT 1 FROM registration_refusals
    WHERE holder_id = ${holderId} AND id <> ${exceptId} AND notice_channel IN ('email', 'sms') AND refused_at > now() - interval '1 day'`);
}
