import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { Request, Response } from 'express';
import { ApiError, errorHandler } from '../../api/http/errors.ts';
import { CardTokenError } from '../../src/cards/card-token.ts';
import { DomainError } from '../../src/errors/domain-error.ts';
import { ERROR_CODES, httpStatusOf, isRetryable } from '../../src/errors/error-codes.ts';
import { fromFailure, toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { VersionConflictError } from '../../src/events/event-store.ts';
import { MailDeliveryError } from '../../src/mail/mailer.ts';
import { domainErrorOf } from '../../src/members/lifecycle-client.ts';
import { MemberRuleError } from '../../src/members/member-aggregate.ts';
import { UnknownWardError } from '../../src/members/member-repository.ts';
import { refusalFailure } from '../../workflows/members/lifecycle-state.ts';

test('every code answers one HTTP status, a client error or a server fault', () => {
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    expect([code, status >= 400 && status <= 599]).toEqual([code, true]);
  }
  expect(httpStatusOf('NOT_A_CODE')).toBe(500);
});

describe('an activity failing with a domain error', () => {
  test('fails non-retryably with its code and field when the table says it is final', () => {
    const failure = toActivityFailure(new UnknownWardError('ward w does not exist or is not active'));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'UNKNOWN_WARD', nonRetryable: true, details: [{ field: 'wardId' }] });
  });

  test('is retried when the table says so: a version race, a mail server that is down', () => {
    expect(toActivityFailure(new VersionConflictError('m', 1, 2))).toMatchObject({ type: 'EVENT_VERSION_CONFLICT', nonRetryable: false });
    expect(toActivityFailure(new MailDeliveryError('down', true, undefined, null))).toMatchObject({ type: 'MAIL_NOT_DELIVERED', nonRetryable: false });
    expect(toActivityFailure(new MailDeliveryError('no such mailbox', false, 550, null))).toMatchObject({ type: 'MAIL_REJECTED', nonRetryable: true });
  });

  test('a Postgres data exception is final; any other error is thrown as it is and retried', () => {
    const dataException = Object.assign(new Error('invalid input syntax'), { code: '22P02' });
    expect(toActivityFailure(new Error('wrapped', { cause: dataException }))).toMatchObject({ type: 'INVALID_DATA', nonRetryable: true });
    const lost = Object.assign(new Error('connection terminated'), { code: '08006' });
    expect(toActivityFailure(lost)).toBe(lost);
  });
});

describe('the lifecycle client', () => {
  const updateFailed = (failure: unknown) => new Error('workflow update failed', { cause: failure });

  test('turns a refusal back into the domain error it stands for, field included', () => {
    const refused = domainErrorOf(updateFailed(refusalFailure({ code: 'PAYMENT_AMOUNT_MISMATCH', message: "amount must be the invoice's 500", field: 'amount' })));
    expect(refused).toBeInstanceOf(MemberRuleError);
    expect(refused).toMatchObject({ code: 'PAYMENT_AMOUNT_MISMATCH', field: 'amount', message: "amount must be the invoice's 500" });
  });

  test('gives a registration refusal its own class, with its field, through the activity and the update', () => {
    const activity = (failure: ApplicationFailure) => new ActivityFailure('activity', 'recordApplication', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', failure);
    const ward = domainErrorOf(updateFailed(activity(toActivityFailure(new UnknownWardError('no ward')) as ApplicationFailure)));
    expect(ward).toBeInstanceOf(UnknownWardError);
    expect(ward).toMatchObject({ code: 'UNKNOWN_WARD', field: 'wardId' });
  });

  test('leaves a failure whose type is not a code, and any other error, as it was', () => {
    const odd = ApplicationFailure.nonRetryable('odd', 'SOMETHING_ELSE');
    expect(fromFailure(odd)).toBe(odd);
    const plain = new Error('plain');
    expect(fromFailure(plain)).toBe(plain);
  });
});

describe('the API', () => {
  test.each<[DomainError, number]>([
    [new MemberRuleError('MEMBER_NOT_AWAITING_APPROVAL', 'decided'), 409],
    [new MemberRuleError('INVOICE_MISMATCH', 'another invoice', { field: 'invoiceId' }), 422],
    [new MemberRuleError('IDEMPOTENCY_KEY_REUSED', 'another application'), 422],
    [new UnknownWardError('no ward'), 422],
    [new CardTokenError('TOKEN_EXPIRED', 'expired'), 422],
  ])('answers %s with the status of its code, wherever it is thrown', (err, status) => {
    const answer = ApiError.fromDomain(err, (field) => ({ pointer: `/data/attributes/${field}` }));
    expect(answer?.status).toBe(status);
    expect(answer?.errors).toEqual([{
      status: String(status), code: err.code, detail: err.message,
      ...(err.field ? { source: { pointer: `/data/attributes/${err.field}` } } : {}),
    }]);
  });

  test('answers a server fault as no client error at all (it is logged and answered 500)', () => {
    expect(ApiError.fromDomain(new VersionConflictError('m', 1, 2))).toBeUndefined();
    expect(isRetryable('EVENT_VERSION_CONFLICT')).toBe(true);
  });
});

describe('the API error handler', () => {
  /** What errorHandler sent, through a stand-in for Express's response. */
  function answerTo(err: unknown): { status: number; retryAfter: string | undefined; codes: string[]; logged: number } {
    const sent = { status: 0, retryAfter: undefined as string | undefined, body: '', logged: 0 };
    const res = {
      set(name: string, value: string) { if (name === 'retry-after') sent.retryAfter = value; return res; },
      status(status: number) { sent.status = status; return res; },
      type() { return res; },
      send(body: string) { sent.body = body; return res; },
    };
    errorHandler({ error: () => { sent.logged++; } })(err, {} as Request, res as unknown as Response, () => undefined);
    return { status: sent.status, retryAfter: sent.retryAfter, codes: (JSON.parse(sent.body) as { errors: { code: string }[] }).errors.map((e) => e.code), logged: sent.logged };
  }

  test('answers an Update whose RPC ran out of time (no worker took it: one was killed) 503 TEMPORAL_UNAVAILABLE with Retry-After, not 500', () => {
    const timedOut = new WorkflowUpdateRPCTimeoutOrCancelledError('context deadline exceeded', { cause: new Error('4 DEADLINE_EXCEEDED: context deadline exceeded') });
    expect(answerTo(timedOut)).toEqual({ status: 503, retryAfter: '5', codes: ['TEMPORAL_UNAVAILABLE'], logged: 0 });
  });

  test('answers an Update refused while the workflow task that a killed worker left failed waits to be retried 503 TEMPORAL_UNAVAILABLE, not 500', () => {
    const details = 'Unable to perform workflow execution update due to Workflow Task in failed state.';
    const refused = new ServiceError('Workflow Update failed', { cause: Object.assign(new Error(`9 FAILED_PRECONDITION: ${details}`), { code: 9, details }) });
    expect(answerTo(refused)).toEqual({ status: 503, retryAfter: '5', codes: ['TEMPORAL_UNAVAILABLE'], logged: 0 });
    // Any other failed precondition is no outage.
    const other = new ServiceError('Workflow Update failed', { cause: Object.assign(new Error('9 FAILED_PRECONDITION: something else'), { code: 9, details: 'something else' }) });
    expect(answerTo(other)).toMatchObject({ status: 500, codes: ['INTERNAL_ERROR'], logged: 1 });
  });

  test('still answers an unknown error 500 and logs it', () => {
    expect(answerTo(new Error('a bug'))).toEqual({ status: 500, retryAfter: undefined, codes: ['INTERNAL_ERROR'], logged: 1 });
  });
});
