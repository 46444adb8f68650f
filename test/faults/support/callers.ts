import { randomBytes } from 'node:crypto';
import type { Tenant } from '../../../src/tenants/tenants.ts';
import type { ApiHarness } from '../../support/api-harness.ts';
import { makeCommittee, makeTenant, seedMiniGeography } from '../../support/fixtures.ts';
import { userOf } from './party-fixtures.ts';

/**
 * Who calls, in the order every matrix row is asked. There is no member login today: a
 * "member" is a user of the party with no roles and no headship.
 */
export const CALLERS = ['anonymous', 'applicant', 'member', 'headInside', 'headOutside', 'treasurer', 'admin', 'otherAdmin'] as const;
export type Caller = (typeof CALLERS)[number];

export interface Credentials {
  /** Sent as `Authorization: Bearer …`; the applicant holds only the secret of their status link. */
  bearer: string | undefined;
  /** The status-link secret of the awaiting-approval application, held by its applicant only. */
  statusToken: string | undefined;
}

/**
 * A user for each caller: the harness's head (whose committee covers the harness wards), the
 * head of a committee on another local level, staff, and the admin of another party.
 */
export async function callersOf(api: ApiHarness, applicantStatusToken: string): Promise<{ credentials: Record<Caller, Credentials>; other: Tenant }> {
  const elsewhere = await seedMiniGeography(api.db.owner, 'M2');
  const outsideCommittee = await makeCommittee(api.db.app, api.tenant.id, elsewhere.localLevelId, 'Elsewhere Committee');
  const other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  const bearer = async (token: Promise<{ token: string }>) => ({ bearer: (await token).token, statusToken: undefined });
  return {
    other,
    credentials: {
      anonymous: { bearer: undefined, statusToken: undefined },
      applicant: { bearer: applicantStatusToken, statusToken: applicantStatusToken },
      member: await bearer(api.userWithToken()),
      headInside: { bearer: await api.tokenFor(api.headUserId), statusToken: undefined },
      headOutside: await bearer(api.userWithToken({ headOf: [outsideCommittee] })),
      treasurer: await bearer(api.userWithToken({ roles: ['treasurer'] })),
      admin: await bearer(api.userWithToken({ roles: ['tenant_admin'] })),
      otherAdmin: await bearer(userOf(api, other, { roles: ['tenant_admin'] })),
    },
  };
}
