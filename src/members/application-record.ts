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
 *
 * `alongside` runs once with what was recorded, after the row and before the event: the
 * caller's other writes and reads go there, so the append, whose trigger takes the party's
 * chain-head lock until commit, stays the transaction's last statement (executeMemberCommand).
 * @throws UnknownWardError
 */
export async function recordApplication(
  tx: TenantTransaction,
  application: SealedApplication,
  options: { workflowId: string; registeredAt: string; command: CommandContext; alongside?: (recorded: RegistrationResult & { registeredAt: string }) => Promise<void> },
): Promise<RegistrationResult & { registeredAt: string }> {
  const { workflowId, registeredAt, alongside } = options;
  const row = await insertApplicant(tx, application, workflowId, registeredAt);
  const place = { geographyPath: row.geographyPath, committeeId: row.committeeId, registeredAt };
  if (row.outcome === 'taken') {
    await recordRefusal(tx, { application, workflowId, contact: row.contact, holderId: row.holderId, committeeId: row.committeeId, refusedAt: registeredAt });
    const refused = { ...place, refusal: { contact: row.contact, holderId: row.holderId } };
    await alongside?.(refused);
    return refused;
  }
  let ran = false;
  await executeMemberCommand(tx, options.command, { type: 'Register', wardId: application.wardId, committeeId: row.committeeId, geographyPath: row.geographyPath },
    alongside && (async () => { ran = true; await alongside(place); }));
  // A retry (the command's key used) appends nothing, and ran nothing before it.
  if (!ran) await alongside?.(place);
  return place;
}
