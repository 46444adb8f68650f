import { ApplicationFailure } from '@temporalio/activity';
import type { DatabasePool } from 'slonik';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import type { Logger } from '../../src/logger.ts';
import type { Mailer } from '../../src/mail/mailer.ts';
import { DuplicatePhoneError, UnknownWardError } from '../../src/members/member-repository.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
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
  // Postgres "data exception" (SQLSTATE class 22): the same input fails the same way on every
  // retry, so retrying forever would only hide it. Input validation should have caught it.
  const sqlState = sqlStateOf(err);
  if (sqlState?.startsWith('22')) {
    return ApplicationFailure.create({ message: `the database refused the data (SQLSTATE ${sqlState})`, type: 'INVALID_DATA', nonRetryable: true });
  }
  return err;
}

function sqlStateOf(err: unknown): string | undefined {
  for (let cause = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; cause && depth < 5; cause = cause.cause as typeof cause, depth++) {
    if (typeof cause.code === 'string' && /^[0-9A-Z]{5}$/.test(cause.code)) return cause.code;
  }
  return undefined;
}
