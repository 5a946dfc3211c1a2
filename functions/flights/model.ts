import * as z from '../../lib/validation';
import { flightId } from '../../lib/ids';
import { MIGRATION_POLICIES, seatMapInput } from '../seats/model';
import type { Flight } from './flight';

export type { Flight };

/** The flights service's shapes (API.md, "Flights"). */

const iata = z.string().check(z.regex(/^[A-Z]{3}$/, 'must be a 3-letter IATA airport code'));
const flightNumber = z.string().check(z.regex(/^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$/, 'must be a flight number like BA117'));
/** ISO 8601 with a zone; stored as UTC. */
const instant = z.pipe(
  z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with a zone' }),
  z.transform((t: string) => new Date(t).toISOString()),
);

const MAX_FLIGHT_MS = 48 * 3600 * 1000;

export function scheduleProblems(flight: Pick<Flight, 'origin' | 'destination' | 'departureTime' | 'arrivalTime'>): { field: string; message: string }[] {
  const problems = [];
  if (flight.origin === flight.destination) problems.push({ field: 'destination', message: 'must differ from origin' });
  const duration = Date.parse(flight.arrivalTime) - Date.parse(flight.departureTime);
  if (duration <= 0) problems.push({ field: 'arrivalTime', message: 'must be after departureTime' });
  else if (duration > MAX_FLIGHT_MS) problems.push({ field: 'arrivalTime', message: 'must be within 48 hours of departureTime' });
  return problems;
}

export const createFlightBody = z.strictObject({ flightNumber, origin: iata, destination: iata, departureTime: instant, arrivalTime: instant, seatMap: seatMapInput });
export type CreateFlightInput = z.infer<typeof createFlightBody>;

export const updateFlightBody = z.documentedAs(
  z
    .strictObject({
      flightNumber: z.optional(flightNumber),
      origin: z.optional(iata),
      destination: z.optional(iata),
      departureTime: z.optional(instant),
      arrivalTime: z.optional(instant),
    })
    .check(z.refine((b) => Object.keys(b).length > 0, 'change at least one field')),
  { minProperties: 1 },
);
export type UpdateFlightInput = z.infer<typeof updateFlightBody>;

/** How far a search may widen either side of its day (API.md: flexDays 0–3). */
export const MAX_FLEX_DAYS = 3;

export const searchQuery = z.strictObject({
  origin: iata,
  destination: iata,
  date: z.iso.date('must be a date like 2026-12-24'),
  flexDays: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(MAX_FLEX_DAYS)), 0),
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 20),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
});

const DAY_MS = 86_400_000;

/** The departure days a search covers, in order: `flexDays` either side of `date` (UTC days, API.md). */
export function searchDays(date: string, flexDays: number): string[] {
  const middle = Date.parse(`${date}T00:00:00Z`);
  return Array.from({ length: 2 * flexDays + 1 }, (_, i) => new Date(middle + (i - flexDays) * DAY_MS).toISOString().slice(0, 10));
}

export const departureDay = (departureTime: string) => departureTime.slice(0, 10);

export const seatMapMigrationBody = z.strictObject({
  seatMap: seatMapInput,
  policy: z._default(z.enum(MIGRATION_POLICIES), 'reject'),
  ifBusy: z._default(z.enum(['queue', 'reject']), 'queue'),
});

const MAX_BATCH = 200;
export const migrationBatchBody = z
  .strictObject({
    items: z
      .array(z.strictObject({ flightId, seatMap: seatMapInput, policy: z._default(z.enum(MIGRATION_POLICIES), 'reject') }))
      .check(z.minLength(1), z.maxLength(MAX_BATCH, `at most ${MAX_BATCH} flights per batch`)),
  })
  .check(z.refine((b) => new Set(b.items.map((i) => i.flightId)).size === b.items.length, { message: 'lists a flight twice', path: ['items'] }));
