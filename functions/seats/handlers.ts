import * as z from '../../lib/validation';
import { config } from '../../lib/config';
import { assertTokenConfig } from '../../lib/auth/keys';
import { redis } from '../../lib/clients/redis';
import { decodeCursor, encodeCursor, pageQuery } from '../../lib/http/pagination';
import { requireCaller, serviceHandler, type HttpResponse } from '../../lib/http/stack';
import { pathParams } from '../../lib/http/path-params';
import { idempotencyClaim } from './idempotency';
import { applySeatMapBody, checkoutBody, holdBody, lookupQuery, provisionSeatsBody, retimeBody, scheduleBody, settleCheckoutBody } from './model';
import { paymentsOverRegistry } from './payments-client';
import { kickRefundSweep } from './refund-kick';
import { REPLAYED, SeatService, type Once } from './service';
import { RedisSeatStore } from './store';
import { kickBroadcast } from './live/kick';
import { kickNoticesRelay } from './notices-kick';

// The seats functions verify no tokens (the authorizer does), but JWT_KEYS signs their list cursors.
assertTokenConfig();
const { HOLD_TTL_SECONDS, IDEMPOTENCY_TTL_SECONDS, PAYMENT_GUARD_SECONDS } = config('seats');
const seats = new SeatService(new RedisSeatStore(redis(), kickBroadcast, kickNoticesRelay), HOLD_TTL_SECONDS * 1000, {
  payments: paymentsOverRegistry,
  paymentGuardMs: PAYMENT_GUARD_SECONDS * 1000,
  salesCloseMs: config('sales').SALES_CLOSE_MINUTES * 60_000,
});
const http = serviceHandler('seats');

const flightParams = pathParams('flightId');
const holdParams = pathParams('holdId');
const bookingParams = pathParams('bookingId');

export const seatMap = http({ route: 'GET /flights/{flightId}/seats', params: flightParams }, async ({ params, headers }): Promise<HttpResponse> => {
  const view = await seats.seatMap(params.flightId);
  // The status version changes on every hold, booking or release; the map version on every migration.
  const etag = `"${view.seatMapVersion}.${view.version}"`;
  if (headers['if-none-match'] === etag) return { status: 304, headers: { etag } };
  return { status: 200, body: view, headers: { etag, 'cache-control': 'no-cache' } };
});

/** The Idempotency-Key of a request, and the header that tells a replayed answer. */
const claimOf = (request: { headers: Record<string, string>; method: string; path: string }, body: unknown) =>
  idempotencyClaim({ key: request.headers['idempotency-key'], method: request.method, path: request.path, body }, IDEMPOTENCY_TTL_SECONDS);
const created = <T>({ value, replayed }: Once<T>): HttpResponse => ({ status: 201, body: value, headers: replayed ? REPLAYED : {} });

export const createHold = http({ route: 'POST /flights/{flightId}/holds', params: flightParams, body: holdBody }, async (request) =>
  created(await seats.holdOnce(requireCaller(request), request.params.flightId, request.body.seats, claimOf(request, request.body))),
);

export const getHold = http({ route: 'GET /holds/{holdId}', params: holdParams }, async (request) => ({
  status: 200,
  body: await seats.getHold(requireCaller(request), request.params.holdId),
}));

export const releaseHold = http({ route: 'DELETE /holds/{holdId}', params: holdParams }, async (request) => {
  await seats.release(requireCaller(request), request.params.holdId);
  return { status: 204 };
});

/** Checkout: pays for the hold and books it (API.md, Checkout). */
export const confirmHold = http({ route: 'POST /holds/{holdId}/confirm', params: holdParams, body: checkoutBody }, async (request) =>
  created(await seats.confirmOnce(requireCaller(request), request.params.holdId, request.body, claimOf(request, request.body))),
);

/** Manage my booking: public and rate-limited like sign-in (the route policy's `auth` class). */
export const lookupBooking = http({ route: 'GET /bookings/lookup', query: lookupQuery }, async ({ query }) => ({
  status: 200,
  body: await seats.lookup(query.reference, query.lastName),
}));

const bookingsCursor = z.object({ offset: z.number().check(z.int(), z.gte(0)) });

export const listBookings = http({ route: 'GET /bookings', query: pageQuery }, async (request) => {
  const offset = decodeCursor(request.query.cursor, bookingsCursor)?.offset ?? 0;
  const page = await seats.listBookings(requireCaller(request), offset, request.query.limit);
  return { status: 200, body: { items: page.items, nextCursor: page.nextOffset === null ? null : encodeCursor({ offset: page.nextOffset }) } };
});

export const getBooking = http({ route: 'GET /bookings/{bookingId}', params: bookingParams }, async (request) => ({
  status: 200,
  body: await seats.getBooking(requireCaller(request), request.params.bookingId),
}));

export const cancelBooking = http({ route: 'DELETE /bookings/{bookingId}', params: bookingParams }, async (request) => ({
  status: 200,
  body: await seats.cancelBooking(requireCaller(request), request.params.bookingId),
}));

export const audit = http({ route: 'GET /admin/flights/{flightId}/seats/audit', params: flightParams }, async ({ params }) => ({ status: 200, body: await seats.audit(params.flightId) }));

/** Service-only: the flights service provisions a new flight's seat map. */
export const provisionSeats = http(
  { route: 'PUT /internal/flights/{flightId}/seats', params: flightParams, body: provisionSeatsBody, maxBodyBytes: 512 * 1024 },
  async ({ params, body }) => {
    const result = await seats.provision(params.flightId, body.seatMapVersion, body.departureTime, body.seatMap);
    return { status: result.existed ? 200 : 201, body: { flightId: params.flightId, seatMapVersion: body.seatMapVersion } };
  },
);

/** Service-only: the flights service cancels a flight; its refunds start at once, beside the answer. */
export const cancelFlightSeats = http({ route: 'POST /internal/flights/{flightId}/cancel', params: flightParams }, async ({ params }) => {
  const result = await seats.cancelFlight(params.flightId);
  await kickRefundSweep();
  return { status: 200, body: result };
});

/** Service-only: the flights service moved a flight's departure (its sales close from it). */
export const scheduleFlightSeats = http({ route: 'PUT /internal/flights/{flightId}/schedule', params: flightParams, body: scheduleBody }, async ({ params, body }) => {
  await seats.schedule(params.flightId, body.departureTime);
  return { status: 204 };
});

/** Service-only: the flights service hands over a time change; each confirmed booking gets its email (once per change id). */
export const retimedFlightSeats = http({ route: 'POST /internal/flights/{flightId}/retimes', params: flightParams, body: retimeBody }, async ({ params, body }) => {
  await seats.retimed(params.flightId, body);
  return { status: 204 };
});

/**
 * Service-only: the payments sweep settles a charge whose confirm never finished: a booking if the hold
 * is still paying with this key, `gone` if not (the payments service then refunds it).
 */
export const settleCheckout = http({ route: 'POST /internal/holds/{holdId}/checkout', params: holdParams, body: settleCheckoutBody }, async ({ params, body }) => {
  const completion = await seats.completeCheckout(params.holdId, body.paymentKey, { provider: body.provider, paymentId: body.paymentId });
  return { status: 200, body: completion === 'gone' ? { outcome: 'gone' } : { outcome: 'booked', bookingId: completion.booking.bookingId } };
});

/** Service-only: every booking with its payment, for the payments audit. */
export const allBookings = http({ route: 'GET /internal/bookings', query: pageQuery }, async ({ query }) => {
  const page = await seats.allBookings(decodeCursor(query.cursor, bookingsCursor)?.offset ?? 0, query.limit);
  return { status: 200, body: { items: page.items, nextCursor: page.nextOffset === null ? null : encodeCursor({ offset: page.nextOffset }) } };
});

/** Service-only: the flights service's migration applies a new seat map, fenced by its lock. */
export const applySeatMap = http(
  {
    route: 'POST /internal/flights/{flightId}/seatmap-migrations',
    params: flightParams,
    body: applySeatMapBody,
    maxBodyBytes: 512 * 1024,
  },
  async ({ params, body }) => ({ status: 200, body: await seats.applySeatMap(params.flightId, body) }),
);

