import { ApplicationFailure } from '@temporalio/activity';
import type { DatabasePool } from 'slonik';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import type { Logger } from '../../src/logger.ts';
import type { Mailer } from '../../src/mail/mailer.ts';
import { DuplicatePhoneError, UnknownWardError } from '../../src/members/member-repository.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
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
}

/** Workflow-scoped identity every step carries: the guard of its idempotency key. */
export interface StepContext {
  tenantId: string;
  memberId: string;
  workflowId: string;
}

export const actorOf = (step: StepContext) => `workflow:${step.workflowId}`;

/** One tenant transaction whose actor is the workflow; business rejections become non-retryable failures. */
export async function inTenant<T>(deps: MemberActivityDeps, step: StepContext, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  try {
    return await withTenant(deps.pool, { tenantId: step.tenantId, actor: actorOf(step) }, work);
  } catch (err) {
    throw asFailure(err);
  }
}

function asFailure(err: unknown): unknown {
  if (err instanceof MemberRuleError || err instanceof DuplicatePhoneError || err instanceof UnknownWardError) {
    return ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true, cause: err });
  }
  return err;
}
