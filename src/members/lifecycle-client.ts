import { randomBytes, randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { DatabasePool } from 'slonik';
import { withTenant } from '../db/tenant-context.ts';
import type { DomainError, DomainErrorOptions } from '../errors/domain-error.ts';
import type { ErrorCode } from '../errors/error-codes.ts';
import { fromFailure } from '../errors/temporal-failure.ts';
import { MemberStage, MemberId, StageEnteredAt, TenantId } from '../temporal/search-attributes.ts';
import { MEMBERSHIP_TASK_QUEUE } from '../temporal/task-queue.ts';
import type { Keyring } from '../tenants/keyring.ts';
import type { Application } from './application.ts';
import { MemberRuleError } from './member-aggregate.ts';
import { DuplicatePhoneError, findMemberIdByPhone, UnknownWardError } from './member-repository.ts';
import * as m from './lifecycle-contract.ts';
import { sealApplication } from './sealed-application.ts';

export interface Registered {
  memberId: string;
  workflowId: string;
  /** The secret of the applicant's status link; only its hash is stored. */
  statusToken: string;
  stage: m.MemberStageName;
}

/** The member error a lifecycle's refusal stands for, by its code. */
function memberError(code: ErrorCode, message: string, options: DomainErrorOptions): DomainError {
  if (code === 'DUPLICATE_PHONE') return new DuplicatePhoneError(message, options);
  if (code === 'UNKNOWN_WARD') return new UnknownWardError(message, options);
  return new MemberRuleError(code, message, options);
}

/** Turns a workflow's business refusal back into the domain error it stands for. */
export function domainErrorOf(err: unknown): unknown {
  return fromFailure(err, memberError);
}

/**
 * Starts the applicant's lifecycle and answers once the application is durably recorded
 * (Update-with-Start). Personal fields are sealed before they leave this process.
 * @throws DuplicatePhoneError, UnknownWardError, MemberRuleError (REGISTRATION_FAILED, INVALID_DATA)
 */
export async function registerApplicant(
  deps: { client: Client; pool: DatabasePool; keyring: Keyring },
  tenantId: string,
  application: Application,
  audit: { ip?: string | undefined; userAgent?: string | undefined } = {},
): Promise<Registered> {
  const memberId = randomUUID();
  const statusToken = randomBytes(24).toString('base64url');
  const sealed = await withTenant(deps.pool, { tenantId, actor: 'applicant', ...audit }, async (tx) => {
    const keys = await deps.keyring.forTenant(tx, tenantId);
    if (await findMemberIdByPhone(tx, keys, application.phone)) throw new DuplicatePhoneError('a member with this phone number already exists');
    return sealApplication(keys, memberId, application, statusToken);
  });
  const workflowId = m.memberWorkflowId(tenantId, memberId);
  const start = new WithStartWorkflowOperation<m.MemberLifecycleWorkflow>(m.MEMBER_LIFECYCLE_WORKFLOW, {
    workflowId,
    taskQueue: MEMBERSHIP_TASK_QUEUE,
    args: [{ tenantId, memberId }],
    workflowIdConflictPolicy: 'FAIL',
    typedSearchAttributes: [
      { key: TenantId, value: tenantId },
      { key: MemberId, value: memberId },
      { key: MemberStage, value: 'Registered' },
      { key: StageEnteredAt, value: new Date() },
    ],
  });
  try {
    const result = await deps.client.workflow.executeUpdateWithStart(m.registerUpdate, { args: [sealed], startWorkflowOperation: start });
    return { memberId, workflowId, statusToken, stage: result.stage };
  } catch (err) {
    throw domainErrorOf(err);
  }
}

/** Sends a lifecycle message as an Update and maps a refusal to the domain error it stands for. */
export async function sendLifecycleUpdate<Result extends m.MessageResult, Args extends [unknown, ...unknown[]]>(
  client: Client,
  workflowId: string,
  update: UpdateDefinition<Result, Args>,
  ...args: Args
): Promise<Result> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(update, { args });
  } catch (err) {
    throw domainErrorOf(err);
  }
}
