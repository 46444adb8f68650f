import type { DatabasePool } from 'slonik';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import type { Logger } from '../../src/logger.ts';
import type { Mailer } from '../../src/mail/mailer.ts';
import type { CommandContext } from '../../src/members/member-store.ts';
import type { ObjectStorage } from '../../src/storage/object-storage.ts';
import type { Keyring } from '../../src/tenants/keyring.ts';

/** Everything the member activities touch, handed in by the worker's wiring. */
export interface MemberActivityDeps {
  pool: DatabasePool;
  keyring: Keyring;
  mailer: Mailer;
  storage: ObjectStorage;
  clock: () => Date;
  log: Logger;
  /** Domain used in Message-IDs, e.g. the mail sender's domain. */
  mailDomain: string;
  /** Where links in members' emails point (e.g. a transfer link), like the API's PUBLIC_BASE_URL. */
  publicBaseUrl?: string | undefined;
}

/** Workflow-scoped identity every step carries: the guard of its idempotency key. */
export interface StepContext {
  tenantId: string;
  memberId: string;
  workflowId: string;
}

export const actorOf = (step: StepContext) => `workflow:${step.workflowId}`;

/** The member command context of one step: its events are keyed `<workflow id>:<step>`, so a retry appends nothing. */
export function stepCommand(step: StepContext, name: string, actor = actorOf(step)): CommandContext {
  return { ...step, metadata: { actor, workflowId: step.workflowId }, idempotencyKey: `${step.workflowId}:${name}` };
}

/** One tenant transaction whose actor is the workflow; domain errors become failures the error table types. */
export async function inTenant<T>(deps: MemberActivityDeps, step: StepContext, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  try {
    return await withTenant(deps.pool, { tenantId: step.tenantId, actor: actorOf(step) }, work);
  } catch (err) {
    throw toActivityFailure(err);
  }
}
