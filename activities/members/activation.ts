import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { signCardToken } from '../../src/cards/card-token.ts';
import { renderIdCard } from '../../src/cards/render-card.ts';
import { assignMemberNumber } from '../../src/members/member-number.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import { findTenant } from '../../src/tenants/tenants.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

const CardSubject = z.object({
  memberNumber: z.string().nullable(),
  nameEn: z.string(),
  nameNe: z.string().nullable(),
  ward: z.string(),
  committee: z.string().nullable(),
  cardId: z.string().nullable(),
  tenantSlug: z.string(),
  tenantName: z.string(),
  timeZone: z.string(),
  cardValidityMs: z.number(),
});

export interface IssuedCard {
  cardId: string;
  storageKey: string;
}

function dateIn(timeZone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function createActivationActivities(deps: MemberActivityDeps) {

  return {
    /** Gives the member its number and makes it active; a retry keeps the number it got. */
    async activateMember(step: StepContext): Promise<{ memberNumber: string }> {
      return inTenant(deps, step, async (tx) => {
        const tenant = await findTenant(tx, step.tenantId);
        if (!tenant) throw new Error(`tenant ${step.tenantId} not found`);
        const memberNumber = await assignMemberNumber(tx, step.memberId, tenant, deps.clock());
        await executeMemberCommand(tx, stepCommand(step, 'activate'), { type: 'Activate', memberNumber });
        return { memberNumber };
      });
    },

    /** Renders, stores and records the member's ID card; a member holding a card gets that one back. */
    async issueIdCard(step: StepContext): Promise<IssuedCard> {
      // One read, outside any write transaction, of everything the card shows; rendering happens after it.
      const { subject, keys } = await inTenant(deps, step, async (tx) => ({
        subject: await tx.maybeOne(sql.type(CardSubject)`
          SELECT m.member_number AS "memberNumber", m.full_name_en AS "nameEn", m.full_name_ne AS "nameNe",
                 w.name_en AS ward, c.name AS committee,
                 (SELECT id FROM id_cards WHERE member_id = m.id AND revoked_at IS NULL) AS "cardId",
                 t.slug AS "tenantSlug", t.name AS "tenantName", t.time_zone AS "timeZone",
                 (extract(epoch FROM t.card_validity) * 1000)::float8 AS "cardValidityMs"
          FROM members m JOIN geography_nodes w ON w.id = m.ward_id LEFT JOIN committees c ON c.id = m.committee_id
            JOIN tenants t ON t.id = m.tenant_id
          WHERE m.id = ${step.memberId}`),
        keys: await deps.keyring.forTenant(tx, step.tenantId),
      }));
      if (!subject) throw new Error(`member ${step.memberId} of tenant ${step.tenantId} not found`);
      const tenant = { slug: subject.tenantSlug, name: subject.tenantName, timeZone: subject.timeZone, cardValidityMs: subject.cardValidityMs };
      const storageKey = idCardKey(tenant.slug, step.memberId);
      if (subject.cardId) return { cardId: subject.cardId, storageKey };
      if (!subject.memberNumber) throw new Error(`member ${step.memberId} has no number yet`);
      const now = deps.clock();
      const validUntil = dateIn(tenant.timeZone, new Date(now.getTime() + tenant.cardValidityMs));
      const tokenId = randomUUID();
      const token = signCardToken(keys.cardSigning.privateKey, { tenant: tenant.slug, memberId: step.memberId, memberNumber: subject.memberNumber, validUntil, tokenId });
      const pdf = await renderIdCard({
        party: { name: tenant.name },
        member: { nameEnglish: subject.nameEn, nameNepali: subject.nameNe ?? subject.nameEn, memberNumber: subject.memberNumber },
        ward: subject.ward,
        committee: subject.committee ?? '—',
        validUntil,
        token,
      });
      await deps.storage.put(storageKey, pdf);
      const cardId = randomUUID();
      const memberNumber = subject.memberNumber;
      await inTenant(deps, step, (tx) =>
        executeMemberCommand(tx, stepCommand(step, 'card'), { type: 'IssueCard', cardId, tokenId, validUntil }, async () => {
          await tx.query(sql.unsafe`
            INSERT INTO id_cards (id, tenant_id, member_id, member_number, storage_key, sha256, token_id, valid_until)
            VALUES (${cardId}, ${step.tenantId}, ${step.memberId}, ${memberNumber}, ${storageKey},
                    ${sql.binary(createHash('sha256').update(pdf).digest())}, ${tokenId}, ${validUntil})`);
        }));
      return { cardId, storageKey };
    },
  };
}
