import { z } from 'zod';
import { seatMapInput } from '../seats/model';

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
