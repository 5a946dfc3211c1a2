/**
 * Every API error shown as a sentence a traveller or admin can act on, from the problem JSON's stable
 * `code` (../shared/API.md). Codes without a sentence of their own fall back to the problem's `detail`
 * (written for people by the API) and then to a generic sentence per status.
 */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { field: string; message: string }[];
  unavailable?: string[];
  limit?: number;
  held?: number;
  /** PAYMENT_DECLINED: why (card_declined, insufficient_funds, expired_card, authentication_required, …). */
  declineCode?: string;
}

export class ApiError extends Error {
  constructor(
    readonly problem: Problem,
    /** Seconds, from Retry-After, when the API said when to come back. */
    readonly retryAfter?: number,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }

  get code(): string | undefined {
    return this.problem.code;
  }
}

/** A declined payment, per the provider's decline code: what happened and what to do. */
const DECLINED: Record<string, string> = {
  card_declined: 'Your card was declined. Choose another card and try again.',
  // Stripe's decline_code for a plain decline (its `code` is card_declined): the same sentence.
  generic_decline: 'Your card was declined. Choose another card and try again.',
  insufficient_funds: 'The card has insufficient funds. Choose another card and try again.',
  expired_card: 'The card has expired. Choose another card and try again.',
  authentication_required: 'Your bank asks to confirm this payment, which cannot be done here. Choose another card and try again.',
};

export function declinedSentence(declineCode: string | undefined): string {
  return (declineCode && DECLINED[declineCode]) || 'The payment was declined. Choose another card and try again.';
}

/** An error whose message is already a sentence for people (the card form's own, for one). */
export class UserError extends Error {}

const later = (retryAfter: number | undefined) => (retryAfter ? ` Try again in ${retryAfter} seconds.` : ' Try again in a moment.');

export function sentenceFor(error: unknown): string {
  if (error instanceof UserError) return error.message;
  if (!(error instanceof ApiError)) return 'The network connection failed. Check your connection and try again.';
  const { problem, retryAfter } = error;
  switch (problem.code) {
    case 'SEAT_UNAVAILABLE': {
      const seats = problem.unavailable?.length ? ` (${problem.unavailable.join(', ')})` : '';
      return `Sorry, that seat was taken meanwhile${seats}. Pick another seat.`;
    }
    case 'HOLD_EXPIRED':
      return 'Your hold expired before it was confirmed, so the seats were released. Pick your seats again.';
    case 'HOLD_NOT_FOUND':
      return 'This hold no longer exists: it expired or was released. Pick your seats again.';
    case 'HOLD_LIMIT_REACHED':
      return `You can hold at most ${problem.limit ?? 9} seats of one flight at a time${problem.held === undefined ? '' : ` (you hold ${problem.held})`}. Confirm or release a hold first.`;
    case 'FLIGHT_CANCELLED':
      return 'This flight has been cancelled; its seats cannot be booked.';
    case 'FLIGHT_CLOSED':
      return 'Sales for this flight have closed: it can no longer be booked, and bookings on it can no longer be cancelled here.';
    case 'PAYMENT_DECLINED':
      return declinedSentence(problem.declineCode);
    case 'PAYMENT_IN_PROGRESS':
      return 'A payment for these seats is still being processed. Wait a moment, then try again.';
    case 'FLIGHT_NOT_FOUND':
      return 'This flight does not exist (any more).';
    case 'SEAT_NOT_FOUND':
      return 'One of those seats is not on this flight’s seat map any more. Reload the seat map.';
    case 'BOOKING_NOT_FOUND':
      return 'This booking does not exist, or it is not yours.';
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'This payment was already sent with other details. Reload the page and try again.';
    case 'ALREADY_CANCELLED':
      return 'This booking is already cancelled.';
    case 'INVALID_CREDENTIALS':
      return 'The email or password is wrong.';
    case 'TOO_MANY_ATTEMPTS':
      return `Too many failed sign-ins for this account.${later(retryAfter)}`;
    case 'EMAIL_TAKEN':
      return 'An account with this email already exists. Log in instead.';
    case 'INVALID_TOKEN':
    case 'UNAUTHORIZED':
      return 'Your session has ended. Please log in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do this.';
    case 'RATE_LIMITED':
      return `You are sending requests too quickly.${later(retryAfter)}`;
    case 'SERVICE_UNAVAILABLE':
      return `The service is temporarily unavailable.${later(retryAfter)}`;
    case 'LAST_ADMIN':
      return 'This is the last enabled admin: it cannot be demoted or disabled.';
    case 'CANNOT_CHANGE_SELF':
      return 'You cannot demote or disable your own account.';
    case 'FLIGHT_EXISTS':
      return 'A flight with this number already departs on that day.';
    case 'MIGRATION_IN_PROGRESS':
      return 'A seat map migration is already running for this flight.';
    case 'VALIDATION_FAILED': {
      const fields = problem.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
      return fields ? `Please check the form: ${fields}.` : 'Please check the form.';
    }
    default:
      if (problem.detail) return problem.detail.endsWith('.') ? problem.detail : `${problem.detail}.`;
      if (problem.status === 429 || problem.status === 503) return `The service is busy.${later(retryAfter)}`;
      return 'Something went wrong. Please try again.';
  }
}
