/**
 * Every error code a client can see, with its status and title: the one table behind API.md's
 * problem+json answers. Services throw `new AppError('CODE', detail)`; the HTTP stack renders it.
 */
export const errorCatalog = {
  VALIDATION_FAILED: [400, 'The request is not valid'],
  INVALID_JSON: [400, 'The body is not valid JSON'],
  INVALID_CURSOR: [400, 'The cursor is not valid'],
  INVALID_SIGNATURE: [400, 'The webhook signature does not match its body'],
  UNAUTHORIZED: [401, 'Authentication is required'],
  INVALID_CREDENTIALS: [401, 'Email or password is wrong'],
  INVALID_TOKEN: [401, 'The token is not valid'],
  PAYMENT_DECLINED: [402, 'The payment was declined'],
  FORBIDDEN: [403, 'Not allowed'],
  NOT_FOUND: [404, 'No such resource'],
  USER_NOT_FOUND: [404, 'No such user'],
  FLIGHT_NOT_FOUND: [404, 'No such flight'],
  SEAT_NOT_FOUND: [404, 'No such seat on this flight'],
  HOLD_NOT_FOUND: [404, 'No such hold'],
  BOOKING_NOT_FOUND: [404, 'No such booking'],
  MIGRATION_NOT_FOUND: [404, 'No such migration'],
  BATCH_NOT_FOUND: [404, 'No such migration batch'],
  SERVICE_NOT_FOUND: [404, 'No such service'],
  INSTANCE_NOT_FOUND: [404, 'No such service instance'],
  PAYMENT_NOT_FOUND: [404, 'No such payment'],
  METHOD_NOT_ALLOWED: [405, 'Method not allowed on this resource'],
  EMAIL_TAKEN: [409, 'An account with this email exists'],
  FLIGHT_EXISTS: [409, 'A flight with this number departs that day already'],
  SEAT_UNAVAILABLE: [409, 'Some seats are not available'],
  FLIGHT_CANCELLED: [409, 'The flight is cancelled'],
  FLIGHT_CLOSED: [409, 'Sales for this flight have closed'],
  PAYMENT_IN_PROGRESS: [409, 'A payment for this hold is in progress with another payment method'],
  ALREADY_CANCELLED: [409, 'Already cancelled'],
  HOLD_ALREADY_CONFIRMED: [409, 'The hold was confirmed already'],
  FLIGHT_CHANGED: [409, 'The flight changed while this request ran; retry it'],
  SEAT_MAP_EXISTS: [409, 'The flight has a seat map already'],
  MIGRATION_FENCED: [409, 'The migration lost its lock or the seat map changed under it'],
  MIGRATION_CONFLICTS: [409, 'The new seat map drops held or booked seats'],
  MIGRATION_IN_PROGRESS: [409, 'A migration of this flight is in progress'],
  HOLD_LIMIT_REACHED: [409, 'You hold as many seats of this flight as one person may'],
  CANNOT_CHANGE_SELF: [409, 'An admin cannot demote or disable itself'],
  LAST_ADMIN: [409, 'The last enabled admin cannot be demoted or disabled'],
  INSTANCE_ALIVE: [409, 'The instance is kept registered by its own service'],
  HOLD_EXPIRED: [410, 'The hold has expired'],
  PAYLOAD_TOO_LARGE: [413, 'The body is too large'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'The body must be application/json'],
  IDEMPOTENCY_KEY_REUSED: [422, 'The Idempotency-Key was used with another request'],
  TOO_MANY_ATTEMPTS: [429, 'Too many failed attempts; try again later'],
  RATE_LIMITED: [429, 'Too many requests; slow down'],
  /** Answered by API Gateway itself (serverless.yml gateway responses), never by a handler. */
  BAD_REQUEST: [400, 'The request is not valid'],
  TOO_MANY_REQUESTS: [429, 'Too many requests'],
  INTERNAL: [500, 'Internal error'],
  SERVICE_UNAVAILABLE: [503, 'A service this request needs is unavailable'],
  DEPENDENCY_DOWN: [503, 'A dependency is down'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof errorCatalog;

/**
 * The few codes that some route answers with another status than the catalog's, because API.md says
 * so: the code names what is wrong, the status how that route answers it. INVALID_TOKEN is 401 for a
 * refused refresh token (a credential) and 400 for a password-reset link's token that is unknown, used
 * or expired (`POST /auth/password/reset`: nothing to authenticate with, the request itself is bad).
 * An AppError asked for any status not listed here fails where it is made, not in front of a client.
 */
export const otherStatuses: Partial<Record<ErrorCode, readonly number[]>> = {
  INVALID_TOKEN: [400],
};

/** The statuses a code may be answered with: the catalog's first. */
export function statusesOf(code: ErrorCode): readonly number[] {
  return [errorCatalog[code][0], ...(otherStatuses[code] ?? [])];
}

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    /** Extra members of the problem document, e.g. `errors` or `unavailable`. */
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    /** Another status than the catalog's, only as `otherStatuses` allows it. */
    status?: number,
  ) {
    super(detail ?? errorCatalog[code][1]);
    if (status !== undefined && !statusesOf(code).includes(status)) throw new Error(`${code} is never answered with status ${status} (lib/http/errors.ts, otherStatuses)`);
    this.name = 'AppError';
    this.status = status ?? errorCatalog[code][0];
    this.title = errorCatalog[code][1];
  }
}

export const validationFailed = (errors: FieldError[]) =>
  new AppError('VALIDATION_FAILED', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [extension: string]: unknown;
}

export function problemOf(error: AppError): ProblemDocument {
  return {
    type: `https://flight-booking.dev/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: error.title,
    status: error.status,
    detail: error.detail ?? error.title,
    code: error.code,
    ...error.extensions,
  };
}
