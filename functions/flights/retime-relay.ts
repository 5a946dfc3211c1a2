import { dynamo } from '../../lib/clients/dynamo';
import { config } from '../../lib/config';
import { log } from '../../lib/log';
import { observeAs } from '../../lib/observability';
import { scheduled, triggeredFunction } from '../../lib/triggers';
import { seatsOverRegistry } from './seats-client';
import { FlightService } from './service';
import { DynamoFlightStore } from './store';

/**
 * Every minute: the time changes a PATCH recorded but could not hand to the seats service (it was
 * down, or the function died right after the write) are handed over, so their emails still go out.
 */

/** Flights per run; the next run takes the rest. */
const FLIGHTS_PER_RUN = 50;

observeAs('flights');
const flights = new FlightService(new DynamoFlightStore(dynamo(), config('dynamo').FLIGHTS_TABLE), seatsOverRegistry);

export const handler = triggeredFunction(scheduled, async () => {
  const result = await flights.handOverAllRetimes(FLIGHTS_PER_RUN);
  if (result.handedOver > 0) log.info('time changes handed over', result);
  return result;
});
