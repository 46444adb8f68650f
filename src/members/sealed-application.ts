import { createHash } from 'node:crypto';
import type { TenantKeys } from '../tenants/keyring.ts';
import type { Application } from './application.ts';
import { blindIndex, encryptField, normalizeEmail, previousBlindIndex, type PersonalField } from './personal-data.ts';
import { purposeMac } from '../crypto/keyed-mac.ts';

/**
 * An application with its personal fields already sealed (base64 AES-256-GCM) and its phone
 * and email blind-indexed. This, not the plaintext, is what travels through Temporal's
 * history, so the workflow service never stores personal data in the clear.
 */
export interface SealedApplication {
  tenantId: string;
  memberId: string;
  wardId: string;
  fullNameEn: string;
  fullNameNe: string | null;
  gender: 'M' | 'F' | 'O';
  phoneEnc: string;
  phoneBidx: string;
  emailEnc: string | null;
  emailBidx: string | null;
  /**
   * The same under the blind-index key retired last, while a blind-index rotation's re-index
   * runs: the duplicate check looks under both. Absent otherwise (and from earlier applications).
   */
  phoneBidxPrevious?: string | null;
  emailBidxPrevious?: string | null;
  dateOfBirthEnc: string | null;
  addressEnc: string | null;
  citizenshipNoEnc: string | null;
  /** sha256 of the applicant's status-link token, hex. */
  statusTokenHash: string;
  /**
   * HMAC of the whole application under the party's registration key (TenantKeys.registrationKey), hex: a repeat under the
   * same Idempotency-Key must carry the same one. Absent from applications sealed before it.
   */
  digest?: string;
}

export function hashStatusToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sealApplication(keys: TenantKeys, memberId: string, application: Application, statusToken: string): SealedApplication {
  const seal = (field: PersonalField, value: string | undefined) =>
    value === undefined ? null : encryptField(keys, memberId, field, value).toString('base64');
  const email = application.email === undefined ? undefined : normalizeEmail(application.email);
  return {
    tenantId: keys.tenantId,
    memberId,
    wardId: application.wardId,
    fullNameEn: application.fullNameEn,
    fullNameNe: application.fullNameNe ?? null,
    gender: application.gender,
    phoneEnc: encryptField(keys, memberId, 'phone', application.phone).toString('base64'),
    phoneBidx: blindIndex(keys, 'phone', application.phone).toString('base64'),
    emailEnc: seal('email', email),
    emailBidx: email === undefined ? null : blindIndex(keys, 'email', email).toString('base64'),
    ...(keys.previousBlindIndexKey && {
      phoneBidxPrevious: previousBlindIndex(keys, 'phone', application.phone)?.toString('base64') ?? null,
      emailBidxPrevious: email === undefined ? null : previousBlindIndex(keys, 'email', email)?.toString('base64') ?? null,
    }),
    dateOfBirthEnc: seal('dateOfBirth', application.dateOfBirth),
    addressEnc: seal('address', application.address),
    citizenshipNoEnc: seal('citizenshipNo', application.citizenshipNo),
    statusTokenHash: hashStatusToken(statusToken),
    digest: applicationDigest(keys, application),
  };
}

/** The application's fields in a fixed order, keyed: equal applications give equal digests, and only the party can compute one. */
export function applicationDigest(keys: TenantKeys, application: Application): string {
  const fields = [
    application.fullNameEn, application.fullNameNe, application.gender, application.phone, application.email === undefined ? undefined : normalizeEmail(application.email),
    application.dateOfBirth, application.address, application.citizenshipNo, application.wardId,
  ];
  return purposeMac(keys.registrationKey, 'application', JSON.stringify(fields.map((f) => f ?? null))).toString('hex');
}
