/**
 * Every code a domain error can carry, with the HTTP status an API client gets for it and
 * whether an activity that fails with it is retried. One table: activities, the lifecycle
 * client and every route read it, so one code never answers two ways.
 *
 * `status: 500` marks an error that is the system's fault, not the caller's: the API answers
 * it as an internal error and logs it.
 */
export const ERROR_CODES = {
  // The HTTP layer: requests that cannot be read, callers who may not, servers that are down.
  VALIDATION_FAILED: { status: 422, retryable: false },
  INVALID_PARAMETER: { status: 400, retryable: false },
  MALFORMED_JSON: { status: 400, retryable: false },
  BAD_REQUEST: { status: 400, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  INVALID_CREDENTIALS: { status: 401, retryable: false },
  BAD_SIGNATURE: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  /** Also a path parameter that cannot name anything: an id that is not a UUID is not found. */
  NOT_FOUND: { status: 404, retryable: false },
  ROUTE_NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  CARD_NOT_FOUND: { status: 404, retryable: false },
  UNKNOWN_GEOGRAPHY: { status: 400, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  DATABASE_UNAVAILABLE: { status: 503, retryable: true },
  TEMPORAL_UNAVAILABLE: { status: 503, retryable: true },
  INTERNAL_ERROR: { status: 500, retryable: true },
  // Admission: what the member's state allows (src/members/admission-rules.ts).
  MEMBER_ALREADY_REGISTERED: { status: 409, retryable: false },
  MEMBER_NOT_AWAITING_APPROVAL: { status: 409, retryable: false },
  MEMBER_NOT_APPROVED: { status: 409, retryable: false },
  MEMBER_NOT_AWAITING_PAYMENT: { status: 409, retryable: false },
  MEMBER_NOT_PAID: { status: 409, retryable: false },
  MEMBER_NOT_ACTIVE: { status: 409, retryable: false },
  MEMBER_CANNOT_WITHDRAW: { status: 409, retryable: false },
  INVOICE_ALREADY_PAID: { status: 409, retryable: false },
  INVOICE_MISMATCH: { status: 422, retryable: false },
  PAYMENT_AMOUNT_MISMATCH: { status: 422, retryable: false },
  DUPLICATE_PAYMENT_REFERENCE: { status: 409, retryable: false },
  NO_OPEN_INVOICE: { status: 409, retryable: false },
  GATEWAY_NOT_TAKEN: { status: 422, retryable: false },
  /** A payment the lifecycle's activity refused for a reason the table does not name. */
  PAYMENT_REFUSED: { status: 409, retryable: false },
  CARD_ALREADY_ISSUED: { status: 409, retryable: false },
  // Payment gateways (src/payments/gateways/).
  /** eSewa or Khalti gave no answer: network error, timeout, 5xx, or a body that cannot be read. Ask again later. */
  PAYMENT_GATEWAY_UNAVAILABLE: { status: 503, retryable: true },
  /** The gateway refused our own request (merchant credentials, a field it rejects): the party's configuration is at fault. */
  PAYMENT_GATEWAY_REFUSED: { status: 500, retryable: false },
  /** Data handed back through the payer's browser (a redirect) is malformed or its signature does not verify. */
  PAYMENT_GATEWAY_DATA_INVALID: { status: 400, retryable: false },
  // The reconciliation queue (src/payments/reconciliation-queue.ts).
  /** The item is already attached to an invoice or marked for refund. */
  RECONCILIATION_DECIDED: { status: 409, retryable: false },
  /** The gateway's transaction is already recorded as the payment of another invoice: it can only be marked for refund. */
  RECONCILIATION_ALREADY_RECORDED: { status: 409, retryable: false },
  // Transfers to another ward (src/transfers/).
  /** The member already has a transfer waiting for its decision. */
  TRANSFER_ALREADY_OPEN: { status: 409, retryable: false },
  /** The transfer is already accepted or refused. */
  TRANSFER_DECIDED: { status: 409, retryable: false },
  TRANSFER_NOT_FOUND: { status: 404, retryable: false },
  /** The destination is the member's own ward. */
  TRANSFER_SAME_WARD: { status: 422, retryable: false },
  // Status changes after admission (src/members/status-change-rules.ts).
  MEMBER_NOT_SUSPENDED: { status: 409, retryable: false },
  EXPULSION_ALREADY_PROPOSED: { status: 409, retryable: false },
  EXPULSION_NOT_PROPOSED: { status: 409, retryable: false },
  /** The head who proposed an expulsion tried to confirm it: a head of the parent committee must. */
  EXPULSION_SAME_PERSON: { status: 409, retryable: false },
  /** Another request is changing this member's status right now; try again. */
  STATUS_CHANGE_IN_PROGRESS: { status: 409, retryable: false },
  // Renewal (src/members/renewal-rules.ts).
  /** A renewal of the member's term is already open (its invoice waits for payment). */
  RENEWAL_IN_PROGRESS: { status: 409, retryable: false },
  /** The member has no open renewal invoice to pay, lapse or close. */
  RENEWAL_NOT_OPEN: { status: 409, retryable: false },
  MEMBER_NOT_LAPSED: { status: 409, retryable: false },
  /** A renewal was asked for a term that is not the member's last (renewed meanwhile, or a stale page). */
  TERM_NOT_LAST: { status: 409, retryable: false },
  // Registration.
  /** Another application was sent under an Idempotency-Key already used. */
  IDEMPOTENCY_KEY_REUSED: { status: 422, retryable: false },
  UNKNOWN_WARD: { status: 422, retryable: false },
  INVALID_PHONE: { status: 422, retryable: false },
  REGISTRATION_FAILED: { status: 422, retryable: false },
  /** Postgres refused the data (SQLSTATE class 22): the same input fails the same way on every retry. */
  INVALID_DATA: { status: 422, retryable: false },
  // Parties, committees, cards.
  SLUG_TAKEN: { status: 409, retryable: false },
  TENANT_NOT_FOUND: { status: 404, retryable: false },
  GEOGRAPHY_NOT_FOUND: { status: 404, retryable: false },
  COMMITTEE_EXISTS: { status: 409, retryable: false },
  COMMITTEE_NOT_FOUND: { status: 404, retryable: false },
  USER_NOT_FOUND: { status: 404, retryable: false },
  ROLE_ALREADY_HELD: { status: 409, retryable: false },
  ROLE_NOT_FOUND: { status: 404, retryable: false },
  ROLE_NOT_OPEN: { status: 409, retryable: false },
  TERM_OVERLAP: { status: 409, retryable: false },
  /** An administrator may not disable their own account or end their own tenant_admin role: another admin must. */
  OWN_ACCESS: { status: 409, retryable: false },
  TOKEN_MALFORMED: { status: 422, retryable: false },
  TOKEN_BAD_SIGNATURE: { status: 422, retryable: false },
  TOKEN_EXPIRED: { status: 422, retryable: false },
  // Member imports (operator CLI).
  IMPORT_NOT_FOUND: { status: 404, retryable: false },
  IMPORT_MOVED_ON: { status: 409, retryable: false },
  IMPORT_FILE_CHANGED: { status: 409, retryable: false },
  IMPORT_NOT_RESUMABLE: { status: 409, retryable: false },
  IMPORT_FILE_SEEN: { status: 409, retryable: false },
  IMPORT_HEADER_INVALID: { status: 422, retryable: false },
  IMPORT_BATCH_FAILED: { status: 500, retryable: false },
  IMPORT_ROLLED_BACK: { status: 409, retryable: false },
  IMPORT_MEMBERS_CHANGED: { status: 409, retryable: false },
  IMPORT_FILE_UNREADABLE: { status: 422, retryable: false },
  GEOGRAPHY_LAYOUT_INVALID: { status: 422, retryable: false },
  GEOGRAPHY_CSV_INVALID: { status: 422, retryable: false },
  GEOGRAPHY_IMPORT_INVALID: { status: 422, retryable: false },
  // Infrastructure the domain names: a race, mail, storage, crypto, backups, migrations.
  EVENT_VERSION_CONFLICT: { status: 500, retryable: true },
  MAIL_NOT_DELIVERED: { status: 500, retryable: true },
  MAIL_REJECTED: { status: 500, retryable: false },
  INVALID_STORAGE_KEY: { status: 500, retryable: false },
  OBJECT_NOT_FOUND: { status: 500, retryable: true },
  DECRYPTION_FAILED: { status: 500, retryable: false },
  /** The event chain or its anchors do not hold: rows were changed behind the product's back. */
  EVENT_CHAIN_BROKEN: { status: 500, retryable: false },
  SNAPSHOT_INVALID: { status: 422, retryable: false },
  RESTORE_REFUSED: { status: 409, retryable: false },
  PG_DUMP_FAILED: { status: 500, retryable: false },
  TABLE_NOT_COVERED: { status: 500, retryable: false },
  MIGRATION_CHANGED: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status of a code; 500 for one the table does not know. */
export function httpStatusOf(code: string): number {
  return isErrorCode(code) ? ERROR_CODES[code].status : 500;
}

/** Whether an activity failing with this code is tried again; unknown codes are (they are not the domain's). */
export function isRetryable(code: string): boolean {
  return isErrorCode(code) ? ERROR_CODES[code].retryable : true;
}
