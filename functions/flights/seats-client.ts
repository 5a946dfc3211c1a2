import { callService } from '../../registry/service-client';
import type { MigrationOutcome, MigrationPolicy, SeatMapInput } from '../seats/model';

/**
 * The flights service's view of the seats service. It is reached only through the registry
 * (discovery, round-robin, failover) with a `service` token; never by a configured URL.
 */
export interface SeatsGateway {
  provision(flightId: string, seatMapVersion: number, seatMap: SeatMapInput): Promise<void>;
  cancelFlight(flightId: string): Promise<{ holdsVoided: number; bookingsCancelled: number }>;
  applySeatMap(flightId: string, args: { fenceToken: number; policy: MigrationPolicy; seatMap: SeatMapInput }): Promise<MigrationOutcome>;
}

export const seatsOverRegistry: SeatsGateway = {
  async provision(flightId, seatMapVersion, seatMap) {
    await callService('flights', 'seats', { method: 'PUT', path: `/internal/flights/${flightId}/seats`, body: { seatMapVersion, seatMap } });
  },
  cancelFlight(flightId) {
    return callService('flights', 'seats', { method: 'POST', path: `/internal/flights/${flightId}/cancel` });
  },
  applySeatMap(flightId, args) {
    return callService('flights', 'seats', { method: 'POST', path: `/internal/flights/${flightId}/seatmap-migrations`, body: args });
  },
};
