import { DomainError } from '../errors/domain-error.ts';

export type CommitteeErrorCode =
  | 'GEOGRAPHY_NOT_FOUND'
  | 'COMMITTEE_EXISTS'
  | 'COMMITTEE_NOT_FOUND'
  | 'USER_NOT_FOUND'
  | 'ROLE_ALREADY_HELD'
  | 'ROLE_NOT_FOUND'
  | 'ROLE_NOT_OPEN'
  | 'TERM_OVERLAP';

/** A committee rule the request breaks; `code` is stable, `field` names the input field at fault. */
export class CommitteeError extends DomainError {
  override readonly name = 'CommitteeError';
  declare readonly code: CommitteeErrorCode;
  declare readonly field: string;
  /** The message without the field name, for callers that name the field their own way. */
  readonly detail: string;

  constructor(code: CommitteeErrorCode, field: string, detail: string) {
    super(code, `${field}: ${detail}`, { field });
    this.detail = detail;
  }
}
