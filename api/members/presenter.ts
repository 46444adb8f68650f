import { z } from 'zod';
import type { TenantTransaction } from '../../src/db/tenant-context.ts';
import type { Application } from '../../src/members/application.ts';
import { MEMBER_STATUSES, PUBLIC_STATUSES, publicStatusOf } from '../../src/members/member-status.ts';
import type { RegistrationRefusal } from '../../src/members/registration-refusals.ts';
import { committeeViews } from '../../src/committees/committees.ts';
import { geographyNodes } from '../../src/geography/geography-queries.ts';
import type { MemberView } from '../../src/members/member-queries.ts';
import type { MemberPlace } from '../../src/members/member-places.ts';
import { decryptField } from '../../src/members/personal-data.ts';
import type { TenantKeys } from '../../src/tenants/keyring.ts';
import { relation, type ResourceObject } from '../http/jsonapi.ts';

/** The member resource's attributes, for the OpenAPI description. */
export const MemberAttributes = z.object({
  status: z.enum(PUBLIC_STATUSES).describe('what the applicant is told: pending until a decision is final'),
  statusDetail: z.enum(MEMBER_STATUSES).describe('the recorded status, as filter[status] takes it'),
  fullNameEn: z.string(),
  fullNameNe: z.string().nullable(),
  gender: z.string(),
  memberNumber: z.string().nullable(),
  registeredAt: z.string().nullable(),
  approvedAt: z.string().nullable(),
  activatedAt: z.string().nullable(),
  statusReason: z.string().nullable().describe('why the member is suspended, expelled, resigned or deceased: a reason code; null otherwise'),
  statusChangedAt: z.string().nullable().describe('when the status last changed after admission'),
  suspendedUntil: z.string().nullable().describe('when a suspension in force ends by itself'),
  wardName: z.object({ en: z.string(), ne: z.string().nullable() }).describe("the member's ward by name: its number within its local level, in English and Nepali"),
  committeeName: z.string().nullable().describe("the name of the committee whose heads decide on the member; null when none covers the ward"),
  phone: z.string().optional().describe('tenant_admin and registrar, and heads covering the member, only'),
  email: z.string().nullable().optional().describe('as phone'),
  dateOfBirth: z.string().nullable().optional().describe('what a decision needs, on one member read (and a decision\'s answer) only: tenant_admin, registrar, and heads covering the member'),
  address: z.string().nullable().optional().describe('as dateOfBirth'),
  citizenshipNo: z.string().nullable().optional().describe('as dateOfBirth'),
});

/** What `fields[members]` may name: the member's attributes and relationships (JSON:API sparse fieldsets). */
export const MEMBER_FIELDS = [...Object.keys(MemberAttributes.shape), 'geography', 'committee'];

/** A JSON:API sparse fieldset of members: a comma-separated list of MEMBER_FIELDS. */
export const MemberFieldsParam = z.object({
  members: z.string().regex(new RegExp(`^(${MEMBER_FIELDS.join('|')})(,(${MEMBER_FIELDS.join('|')}))*$`), `comma-separated, of: ${MEMBER_FIELDS.join(', ')}`)
    .describe('only these attributes and relationships of each member (JSON:API sparse fieldsets); without it, all the caller may see. '
      + 'Contact details are decrypted only when `phone` or `email` is named, and ward and committee names read only when named'),
}).strict().optional();

/** The fields a `fields[members]` value names, or null (all of them) when there is none. */
export function memberFields(param: { members: string } | undefined): ReadonlySet<string> | null {
  return param ? new Set(param.members.split(',')) : null;
}

/** The resource with only the fields named (JSON:API: no other field may be sent); all of it for null. */
export function sparse(resource: ResourceObject, fields: ReadonlySet<string> | null): ResourceObject {
  if (!fields) return resource;
  const keep = <V>(record: Record<string, V>) => Object.fromEntries(Object.entries(record).filter(([name]) => fields.has(name)));
  return { ...resource, attributes: keep(resource.attributes), ...(resource.relationships ? { relationships: keep(resource.relationships) } : {}) };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The member resource. Contact details are decrypted only when `keys` is given: for staff
 * allowed to see them, never for anonymous callers; what a decision needs (date of birth,
 * address, citizenship number) only when `personal` is asked for too.
 */
export function memberResource(member: MemberView, place: MemberPlace, keys?: TenantKeys, options: { personal?: boolean } = {}): ResourceObject {
  const open = (field: 'dateOfBirth' | 'address' | 'citizenshipNo', sealed: Buffer | null) => (keys && sealed ? decryptField(keys, member.id, field, sealed) : null);
  return {
    type: 'members',
    id: member.id,
    attributes: {
      status: publicStatusOf(member.status),
      statusDetail: member.status,
      fullNameEn: member.fullNameEn,
      fullNameNe: member.fullNameNe,
      gender: member.gender,
      memberNumber: member.memberNumber,
      registeredAt: iso(member.registeredAt),
      approvedAt: iso(member.approvedAt),
      activatedAt: iso(member.activatedAt),
      statusReason: member.statusReason,
      statusChangedAt: iso(member.statusChangedAt),
      suspendedUntil: member.status === 'suspended' ? iso(member.suspendedUntil) : null,
      wardName: place.wardName,
      committeeName: place.committeeName,
      ...(keys
        ? {
            phone: decryptField(keys, member.id, 'phone', member.phoneEnc),
            email: member.emailEnc ? decryptField(keys, member.id, 'email', member.emailEnc) : null,
          }
        : {}),
      ...(keys && options.personal
        ? { dateOfBirth: open('dateOfBirth', member.dateOfBirthEnc), address: open('address', member.addressEnc), citizenshipNo: open('citizenshipNo', member.citizenshipNoEnc) }
        : {}),
    },
    relationships: { geography: relation('geography-nodes', member.wardId), committee: relation('committees', member.committeeId) },
  };
}

/**
 * The resource a registration answers with, built from what was sent and what the lifecycle
 * answered, never from a read that only a recorded application would have: a registration
 * whose phone or email is taken gets exactly this answer too.
 */
export function applicationResource(
  memberId: string,
  application: Pick<Application, 'fullNameEn' | 'fullNameNe' | 'gender' | 'wardId'>,
  taken: { registeredAt: string; committeeId: string | null },
  place: MemberPlace,
): ResourceObject {
  return {
    type: 'members',
    id: memberId,
    attributes: {
      status: 'pending', statusDetail: 'awaiting_approval', fullNameEn: application.fullNameEn, fullNameNe: application.fullNameNe ?? null,
      gender: application.gender, memberNumber: null, registeredAt: taken.registeredAt, approvedAt: null, activatedAt: null,
      // As memberResource shows a new application: a refused one's status link must not differ.
      statusReason: null, statusChangedAt: null, suspendedUntil: null, wardName: place.wardName, committeeName: place.committeeName,
    },
    relationships: { geography: relation('geography-nodes', application.wardId), committee: relation('committees', taken.committeeId) },
  };
}

/**
 * What the status link of an application that could not proceed shows: the application as it
 * was taken, like any new one. Whoever applied holds this link, so it must not tell them the
 * contact was someone else's; the holder of the contact is told through it instead.
 */
export function refusalResource(refusal: RegistrationRefusal, place: MemberPlace): ResourceObject {
  const resource = applicationResource(refusal.id, { fullNameEn: refusal.fullNameEn, fullNameNe: refusal.fullNameNe ?? undefined, gender: refusal.gender as Application['gender'], wardId: refusal.wardId },
    { registeredAt: new Date(refusal.refusedAt).toISOString(), committeeId: refusal.committeeId }, place);
  // Withdrawn through its link, it reads as a withdrawn application does.
  return refusal.withdrawnAt === null ? resource : { ...resource, attributes: { ...resource.attributes, status: 'withdrawn', statusDetail: 'withdrawn' } };
}

export type Include = 'geography' | 'committee';

/** The `included` resources a request asked for. */
export async function included(tx: TenantTransaction, members: readonly MemberView[], include: readonly Include[]): Promise<ResourceObject[]> {
  const out: ResourceObject[] = [];
  if (include.includes('geography')) {
    for (const node of await geographyNodes(tx, [...new Set(members.map((m) => m.wardId))])) {
      const { id, ...attributes } = node;
      out.push({ type: 'geography-nodes', id, attributes });
    }
  }
  if (include.includes('committee')) {
    const ids = [...new Set(members.flatMap((m) => (m.committeeId ? [m.committeeId] : [])))];
    for (const committee of await committeeViews(tx, ids)) {
      out.push({ type: 'committees', id: committee.id, attributes: { name: committee.name }, relationships: { geography: relation('geography-nodes', committee.geographyId) } });
    }
  }
  return out;
}
