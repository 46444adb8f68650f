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
export class CommitteeError extends Error {
  override readonly name = 'CommitteeError';
  readonly code: CommitteeErrorCode;
  readonly field: string;
  /** The message without the field name, for callers that name the field their own way. */
  readonly detail: string;

  constructor(code: CommitteeErrorCode, field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.code = code;
    this.field = field;
    this.detail = detail;
  }
}
