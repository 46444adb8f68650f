import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { DatabasePool } from 'slonik';
import { createMemberActivities, type MemberActivityDeps } from '../../../activities/members/index.ts';
import { withTenant } from '../../../src/db/tenant-context.ts';
import { createLogger } from '../../../src/logger.ts';
import { createSmtpMailer, senderDomain } from '../../../src/mail/mailer.ts';
import { ApplicationSchema } from '../../../src/members/application.ts';
import { sealApplication } from '../../../src/members/sealed-application.ts';
import { LocalDirectoryStorage } from '../../../src/storage/local-storage.ts';
import type { Party } from './party.ts';

export type Outcome = 'active' | 'rejected' | 'awaiting_payment' | 'awaiting_approval';

export interface PopulatedMember {
  memberId: string;
  phone: string;
  email: string;
  outcome: Outcome;
}

const FROM = 'Party <members@party.test>';

/**
 * Members of `party` taken through the lifecycle's real activities (no Temporal needed), in a
 * mix of outcomes, so every tenant table, the event chain and the audit log have rows.
 */
export async function populate(app: DatabasePool, party: Party, smtpUrl: string, storageDir: string, outcomes: readonly Outcome[], firstIndex = 0): Promise<PopulatedMember[]> {
  const mailer = createSmtpMailer({ smtpUrl, from: FROM, timeoutMs: 5_000 });
  const deps: MemberActivityDeps = {
    pool: app, keyring: party.keyring, mailer, storage: new LocalDirectoryStorage(path.join(storageDir, party.tenant.slug)),
    clock: () => new Date(), log: createLogger('populate', 'silent'), mailDomain: senderDomain(FROM),
  };
  const steps = createMemberActivities(deps);
  const members: PopulatedMember[] = [];
  try {
    for (const [offset, outcome] of outcomes.entries()) {
      const index = firstIndex + offset;
      const memberId = randomUUID();
      const step = { tenantId: party.tenant.id, memberId, workflowId: `populate-${memberId}` };
      const application = ApplicationSchema.parse({
        fullNameEn: `Backup Member ${index}`, fullNameNe: 'सदस्य', gender: index % 2 ? 'F' : 'M', phone: `98${String(45_000_000 + index)}`,
        email: `backup.${index}@${party.tenant.slug}.example.np`, dateOfBirth: '1990-01-31', address: 'Ward 2, Test Municipality', citizenshipNo: `12-01-${index}`, wardId: party.geo.wardIds[1],
      });
      const sealed = await withTenant(app, { tenantId: party.tenant.id, actor: 'test' }, async (tx) =>
        sealApplication(await party.keyring.forTenant(tx, party.tenant.id), memberId, application, `status-${memberId}`));
      await steps.recordApplication(step, sealed);
      members.push({ memberId, phone: application.phone, email: application.email!, outcome });
      if (outcome === 'awaiting_approval') continue;
      if (outcome === 'rejected') {
        await steps.recordRejection(step, 'user:test', 'not resident');
        continue;
      }
      await steps.recordApproval(step, 'user:test', null);
      const invoice = await steps.issueInvoice(step, 50_000, 'NPR', 86_400_000);
      if (outcome === 'awaiting_payment') continue;
      await steps.recordPayment(step, { invoiceId: invoice.invoiceId, amount: invoice.amountMinor, currency: 'NPR', provider: 'esewa', providerRef: `ref-${memberId}`, paidAt: new Date().toISOString() });
      const { memberNumber } = await steps.activateMember(step);
      await steps.issueIdCard(step);
      await steps.sendMemberEmail(step, { kind: 'activated', memberNumber });
    }
  } finally {
    mailer.close();
  }
  return members;
}
