import type { TenantTransaction } from '../db/tenant-context.ts';
import type { CommandContext } from './member-store.ts';
import { executeMemberCommand } from './member-store.ts';
import { insertApplicant } from './member-repository.ts';
import { recordRefusal } from './registration-refusals.ts';
import type { RegistrationResult } from './lifecycle-contract.ts';
import type { SealedApplication } from './sealed-application.ts';

/**
 * Writes the member row and MemberRegistered in the caller's transaction; a retry changes
 * nothing (the row is there, the event is keyed by `command.idempotencyKey`). When the phone or
 * email already belongs to someone in the party, records the refusal instead and says whose it
 * is: the applicant is answered the same either way.
 * @throws UnknownWardError
 */
export async function recordApplication(
  tx: TenantTransaction,
  application: SealedApplication,
  options: { workflowId: string; registeredAt: string; command: CommandContext },
): Promise<RegistrationResult & { registeredAt: string }> {
  const { workflowId, registeredAt } = options;
  const row = await insertApplicant(tx, application, workflowId, registeredAt);
  const place = { geographyPath: row.geographyPath, committeeId: row.committeeId, registeredAt };
  if (row.outcome === 'taken') {
    await recordRefusal(tx, { application, workflowId, contact: row.contact, holderId: row.holderId, committeeId: row.committeeId, refusedAt: registeredAt });
    return { ...place, refusal: { contact: row.contact, holderId: row.holderId } };
  }
  await executeMemberCommand(tx, options.command, { type: 'Register', wardId: application.wardId, committeeId: row.committeeId, geographyPath: row.geographyPath });
  return place;
}
