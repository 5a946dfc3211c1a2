import { AppError } from '../../lib/http/errors';
import { callService } from '../../registry/service-client';
import type { FlightDirectory } from './service';
import type { FlightSummary } from './model';

/** The notifications service's view of the flights service: the flight a booking email shows, found through the registry. */
export const flightsOverRegistry: FlightDirectory = {
  async flight(flightId) {
    try {
      const flight = await callService<FlightSummary>('notifications', 'flights', { method: 'GET', path: `/flights/${flightId}` });
      return { flightNumber: flight.flightNumber, origin: flight.origin, destination: flight.destination, departureTime: flight.departureTime, arrivalTime: flight.arrivalTime };
    } catch (error) {
      // A flight the flights service does not know (removed since): the email says what it can without it.
      if (error instanceof AppError && error.code === 'FLIGHT_NOT_FOUND') return undefined;
      throw error;
    }
  },
};
