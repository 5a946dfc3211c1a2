import { z } from 'zod';
import { flightId } from '../../lib/ids';
import { MIGRATION_POLICIES, seatMapInput } from '../seats/model';

/** The flights service's shapes (API.md, "Flights"). */

export interface Flight {
  id: string;
  flightNumber: string;
  origin: string;
  destination: string;
  departureTime: string;
  arrivalTime: string;
  status: 'scheduled' | 'cancelled';
  seatMapVersion: number;
  createdAt: string;
  updatedAt: string;
}

const iata = z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter IATA airport code');
const flightNumber = z.string().regex(/^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$/, 'must be a flight number like BA117');
/** ISO 8601 with a zone; stored as UTC. */
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with a zone' }).transform((t) => new Date(t).toISOString());

const MAX_FLIGHT_MS = 48 * 3600 * 1000;

export function scheduleProblems(flight: Pick<Flight, 'origin' | 'destination' | 'departureTime' | 'arrivalTime'>): { field: string; message: string }[] {
  const problems = [];
  if (flight.origin === flight.destination) problems.push({ field: 'destination', message: 'must differ from origin' });
  const duration = Date.parse(flight.arrivalTime) - Date.parse(flight.departureTime);
  if (duration <= 0) problems.push({ field: 'arrivalTime', message: 'must be after departureTime' });
  else if (duration > MAX_FLIGHT_MS) problems.push({ field: 'arrivalTime', message: 'must be within 48 hours of departureTime' });
  return problems;
}

export const createFlightBody = z
  .object({ flightNumber, origin: iata, destination: iata, departureTime: instant, arrivalTime: instant, seatMap: seatMapInput })
  .strict();
export type CreateFlightInput = z.infer<typeof createFlightBody>;

export const updateFlightBody = z
  .object({ flightNumber: flightNumber.optional(), origin: iata.optional(), destination: iata.optional(), departureTime: instant.optional(), arrivalTime: instant.optional() })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'change at least one field');
export type UpdateFlightInput = z.infer<typeof updateFlightBody>;

export const searchQuery = z
  .object({
    origin: iata,
    destination: iata,
    date: z.iso.date('must be a date like 2026-12-24'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(1024).optional(),
  })
  .strict();

export const departureDay = (departureTime: string) => departureTime.slice(0, 10);

export const seatMapMigrationBody = z
  .object({ seatMap: seatMapInput, policy: z.enum(MIGRATION_POLICIES).default('reject'), ifBusy: z.enum(['queue', 'reject']).default('queue') })
  .strict();

const MAX_BATCH = 200;
export const migrationBatchBody = z
  .object({
    items: z
      .array(z.object({ flightId, seatMap: seatMapInput, policy: z.enum(MIGRATION_POLICIES).default('reject') }).strict())
      .min(1)
      .max(MAX_BATCH, `at most ${MAX_BATCH} flights per batch`),
  })
  .strict()
  .refine((b) => new Set(b.items.map((i) => i.flightId)).size === b.items.length, { message: 'lists a flight twice', path: ['items'] });
