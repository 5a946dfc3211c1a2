import { api } from './api';
import { h, show } from './dom';
import { localDateTime } from './local-time';
import type { Airport, Flight } from './types';

/**
 * The airports flights are scheduled from or to (GET /airports): the search form's suggestions, and the
 * time zone each flight's times are shown in, as travellers read them on a ticket or a departure board.
 * Fetched once per page load; without it (an older API, an outage) times are shown in UTC.
 */

let airports: Promise<Map<string, Airport>> | undefined;

export function loadAirports(): Promise<Map<string, Airport>> {
  airports ??= api<{ items: Airport[] }>('GET', '/airports', { auth: false }).then(
    ({ items }) => new Map(items.map((airport) => [airport.code, airport])),
    () => new Map(),
  );
  return airports;
}

/** "London (LHR)", or the code alone for an airport the API does not describe. */
export function airportName(code: string, known: Map<string, Airport>): string {
  const airport = known.get(code);
  return airport && airport.city !== code ? `${airport.city} (${code})` : code;
}

/**
 * A flight's departure and arrival, each at its own airport's local time. Filled in once the airports
 * are known; until then (a few milliseconds, once per page load) in UTC.
 */
export function flightTimes(flight: Flight): HTMLElement {
  const line = (known: Map<string, Airport>) => [
    'Departs ',
    h('time', { datetime: flight.departureTime }, localDateTime(flight.departureTime, known.get(flight.origin)?.timeZone ?? null)),
    ` from ${airportName(flight.origin, known)} · Arrives `,
    h('time', { datetime: flight.arrivalTime }, localDateTime(flight.arrivalTime, known.get(flight.destination)?.timeZone ?? null)),
    ` in ${airportName(flight.destination, known)}`,
  ];
  const paragraph = h('p', {}, line(new Map()));
  void loadAirports().then((known) => show(paragraph, line(known)));
  return paragraph;
}
