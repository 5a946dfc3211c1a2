import { z } from 'zod';
import { config } from '../../lib/config';
import { dynamo } from '../../lib/clients/dynamo';
import { assertTokenConfig } from '../../lib/auth/tokens';
import { AppError } from '../../lib/http/errors';
import { decodeCursor, encodeCursor } from '../../lib/http/pagination';
import { flightId } from '../../lib/ids';
import { scheduledHeartbeat, serviceHandler } from '../../registry/self-registration';
import { createFlightBody, searchQuery, updateFlightBody } from './model';
import { seatsOverRegistry } from './seats-client';
import { FlightService } from './service';
import { DynamoFlightStore } from './store';

assertTokenConfig();
const flights = new FlightService(new DynamoFlightStore(dynamo(), config('dynamo').FLIGHTS_TABLE), seatsOverRegistry);
const http = serviceHandler('flights');
const flightParams = z.object({ flightId });
const searchCursor = z.object({ routeDay: z.string(), key: z.record(z.string(), z.string()) });

export const search = http({ query: searchQuery }, async ({ query }) => {
  const routeDay = `${query.origin}#${query.destination}#${query.date}`;
  const cursor = decodeCursor(query.cursor, searchCursor);
  // A cursor only continues the search that made it.
  if (cursor && cursor.routeDay !== routeDay) throw new AppError('INVALID_CURSOR', 'The cursor belongs to another search');
  const page = await flights.search(routeDay, query.limit, cursor?.key);
  return {
    status: 200,
    body: { items: page.items, nextCursor: page.lastKey ? encodeCursor({ routeDay, key: page.lastKey }) : null },
  };
});

export const get = http({ params: flightParams }, async ({ params }) => ({ status: 200, body: await flights.get(params.flightId) }));

export const create = http({ body: createFlightBody, maxBodyBytes: 512 * 1024 }, async ({ body }) => ({
  status: 201,
  body: await flights.create(body),
}));

export const update = http({ params: flightParams, body: updateFlightBody }, async ({ params, body }) => ({
  status: 200,
  body: await flights.update(params.flightId, body),
}));

export const cancel = http({ params: flightParams }, async ({ params }) => ({ status: 200, body: await flights.cancel(params.flightId) }));

export const keepAlive = scheduledHeartbeat('flights');
