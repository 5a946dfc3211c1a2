import * as z from '../validation';
import { BATCH_ID, BOOKING_ID, FLIGHT_ID, HOLD_ID, INSTANCE_ID, MIGRATION_ID, PAYMENT_KEY, SERVICE_NAME, USER_ID } from '../ids';
import type { ErrorCode } from './errors';

/**
 * Every path parameter of the API: its format and the code of the 404 a malformed value answers. An id
 * that is not well-formed names nothing, so it gets exactly the answer of a well-formed unknown id
 * (API.md, Conventions), never a 400 that would tell the two apart.
 */
export const PATH_PARAMS = {
  flightId: { pattern: FLIGHT_ID, notFound: 'FLIGHT_NOT_FOUND' },
  holdId: { pattern: HOLD_ID, notFound: 'HOLD_NOT_FOUND' },
  bookingId: { pattern: BOOKING_ID, notFound: 'BOOKING_NOT_FOUND' },
  userId: { pattern: USER_ID, notFound: 'USER_NOT_FOUND' },
  migrationId: { pattern: MIGRATION_ID, notFound: 'MIGRATION_NOT_FOUND' },
  batchId: { pattern: BATCH_ID, notFound: 'BATCH_NOT_FOUND' },
  service: { pattern: SERVICE_NAME, notFound: 'SERVICE_NOT_FOUND' },
  instanceId: { pattern: INSTANCE_ID, notFound: 'INSTANCE_NOT_FOUND' },
  paymentKey: { pattern: PAYMENT_KEY, notFound: 'PAYMENT_NOT_FOUND' },
  // A file of the web app (GET /app/{file}): one name, no folders.
  file: { pattern: /^[\w-]+(\.[\w-]+)+$/, notFound: 'NOT_FOUND' },
} as const satisfies Record<string, { pattern: RegExp; notFound: ErrorCode }>;

export type PathParamName = keyof typeof PATH_PARAMS;

/** The zod schema of a route's path parameters, e.g. `pathParams('flightId', 'migrationId')`. */
export function pathParams<N extends PathParamName>(...names: N[]): z.ZodMiniType<Record<N, string>> {
  return z.object(Object.fromEntries(names.map((name) => [name, z.string().check(z.regex(PATH_PARAMS[name].pattern))]))) as unknown as z.ZodMiniType<
    Record<N, string>
  >;
}

/** The 404 code for a malformed path parameter; NOT_FOUND for a name this table does not know. */
export function notFoundCodeOf(name: string): ErrorCode {
  return (PATH_PARAMS as Record<string, { notFound: ErrorCode }>)[name]?.notFound ?? 'NOT_FOUND';
}
