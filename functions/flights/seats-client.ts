import { callService } from '../../registry/service-client';
import type { MigrationOutcome, MigrationPolicy, SeatMapInput } from '../seats/model';
import type { SeatService } from '../seats/service';
import type { Retime } from './store';

/**
 * The flights service's view of the seats service. It is reached only through the registry
 * (discovery, round-robin, failover) with a `service` token; never by a configured URL.
 */
export interface SeatsGateway {
  provision(flightId: string, seatMapVersion: number, departureTime: string, seatMap: SeatMapInput): Promise<void>;
  /** The flight's new departure time (the seats service closes its sales from it). */
  schedule(flightId: string, departureTime: string): Promise<void>;
  cancelFlight(flightId: string): Promise<{ holdsVoided: number; bookingsCancelled: number }>;
  /** A time change of the flight: the seats service records an email for each of its bookings, once per change id. */
  retimed(flightId: string, retime: Retime): Promise<void>;
  applySeatMap(flightId: string, args: { fenceToken: number; policy: MigrationPolicy; seatMap: SeatMapInput }): Promise<MigrationOutcome>;
}

export const seatsOverRegistry: SeatsGateway = {
  async provision(flightId, seatMapVersion, departureTime, seatMap) {
    await callService('flights', 'seats', { method: 'PUT', path: `/internal/flights/${flightId}/seats`, body: { seatMapVersion, departureTime, seatMap } });
  },
  async schedule(flightId, departureTime) {
    await callService('flights', 'seats', { method: 'PUT', path: `/internal/flights/${flightId}/schedule`, body: { departureTime } });
  },
  cancelFlight(flightId) {
    return callService('flights', 'seats', { method: 'POST', path: `/internal/flights/${flightId}/cancel` });
  },
  async retimed(flightId, retime) {
    await callService('flights', 'seats', { method: 'POST', path: `/internal/flights/${flightId}/retimes`, body: retime });
  },
  applySeatMap(flightId, args) {
    return callService('flights', 'seats', { method: 'POST', path: `/internal/flights/${flightId}/seatmap-migrations`, body: args });
  },
};

/** The seats service called in the same process, for the tests and the LocalStack seeding (no registry there). */
export function seatsInProcess(seats: SeatService): SeatsGateway {
  return {
    provision: async (id, version, departureTime, map) => void (await seats.provision(id, version, departureTime, map)),
    schedule: (id, departureTime) => seats.schedule(id, departureTime),
    cancelFlight: (id) => seats.cancelFlight(id),
    retimed: (id, retime) => seats.retimed(id, retime),
    applySeatMap: (id, args) => seats.applySeatMap(id, args),
  };
}
