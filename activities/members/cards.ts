import { createHash } from 'node:crypto';
import { insertCard, readCardSubject } from '../../src/cards/card-store.ts';
import { signCardToken } from '../../src/cards/card-token.ts';
import { derivedUuid } from '../../src/crypto/derived-uuid.ts';
import { renderIdCard } from '../../src/cards/render-card.ts';
import { cardVerifyUrl } from '../../src/cards/card-verify-url.ts';
import { formatPartyDate } from '../../src/calendar/bikram-sambat.ts';
import { executeMemberCommand } from '../../src/members/member-store.ts';
import { idCardKey } from '../../src/storage/object-storage.ts';
import { inTenant, stepCommand, type MemberActivityDeps, type StepContext } from './deps.ts';

export interface IssuedCard {
  cardId: string;
  storageKey: string;
}

function dateIn(timeZone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function createCardActivities(deps: MemberActivityDeps) {
  return {
    /**
     * Renders, stores and records the member's ID card; a member holding a card gets that one back.
     * The card is valid for the party's card validity, or to `validUntil` (a renewal: the new paid-until).
     */
    async issueIdCard(step: StepContext, options: { validUntil?: string } = {}): Promise<IssuedCard> {
      // One read, outside any write transaction, of everything the card shows; rendering happens after it.
      const { subject, keys } = await inTenant(deps, step, async (tx) => ({
        subject: await readCardSubject(tx, step.memberId),
        keys: await deps.keyring.forTenant(tx, step.tenantId),
      }));
      if (!subject) throw new Error(`member ${step.memberId} of tenant ${step.tenantId} not found`);
      const tenant = { slug: subject.tenantSlug, name: subject.tenantName, timeZone: subject.timeZone, cardValidityMs: subject.cardValidityMs };
      const storageKey = idCardKey(tenant.slug, step.memberId);
      if (subject.cardId) return { cardId: subject.cardId, storageKey };
      if (!subject.memberNumber) throw new Error(`member ${step.memberId} has no number yet`);
      const memberNumber = subject.memberNumber;
      const validUntil = options.validUntil ?? dateIn(tenant.timeZone, new Date(deps.clock().getTime() + tenant.cardValidityMs));
      // Both ids derive from the step: attempts that overlap render the same token and record the same card.
      const tokenId = derivedUuid(`${step.workflowId}:card:token`);
      const token = signCardToken(keys.cardSigning.privateKey, { tenant: tenant.slug, memberId: step.memberId, memberNumber, validUntil, tokenId });
      const pdf = await renderIdCard({
        party: { id: step.tenantId, name: tenant.name },
        member: { nameEnglish: subject.nameEn, nameNepali: subject.nameNe ?? subject.nameEn, memberNumber },
        ward: subject.ward,
        committee: subject.committee ?? '—',
        // Shown in the party's calendar; the signed token carries the AD date.
        validUntil: formatPartyDate(validUntil, subject.calendar),
        token,
        qrText: cardVerifyUrl(deps.publicBaseUrl, token),
      });
      await deps.storage.put(storageKey, pdf);
      const cardId = derivedUuid(`${step.workflowId}:card:id`);
      const sha256 = createHash('sha256').update(pdf).digest();
      await inTenant(deps, step, (tx) =>
        executeMemberCommand(tx, stepCommand(step, 'card'), { type: 'IssueCard', cardId, tokenId, validUntil }, () =>
          insertCard(tx, { cardId, tenantId: step.tenantId, memberId: step.memberId, memberNumber, storageKey, sha256, tokenId, validUntil })));
      return { cardId, storageKey };
    },
  };
}
