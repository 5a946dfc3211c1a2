import { AppError, validationFailed } from '../../lib/http/errors';
import { newFlightId } from '../../lib/ids';
import { departureDay, scheduleProblems, type CreateFlightInput, type Flight, type UpdateFlightInput } from './model';
import { ConditionFailed, type FlightStore } from './store';
import type { SeatsGateway } from './seats-client';

/** The flights service's rules: create (with its seat map), update, cancel, find. */
export class FlightService {
  constructor(
    private readonly store: FlightStore,
    private readonly seats: SeatsGateway,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(id: string): Promise<Flight> {
    const flight = await this.store.get(id);
    if (!flight) throw new AppError('FLIGHT_NOT_FOUND');
    return flight;
  }

  /**
   * Claims the flight number for the day, provisions the seat map in the seats service, then writes the
   * flight. A failure at any step undoes the claim, so nothing is half-created that a client could see.
   */
  async create(input: CreateFlightInput): Promise<Flight> {
    const { seatMap, ...schedule } = input;
    const problems = scheduleProblems(schedule);
    if (problems.length > 0) throw validationFailed(problems);
    const at = this.now().toISOString();
    const flight: Flight = { id: newFlightId(), ...schedule, status: 'scheduled', seatMapVersion: 1, createdAt: at, updatedAt: at };
    const day = departureDay(flight.departureTime);
    if (!(await this.store.claimFlightNumber(flight.flightNumber, day, flight.id))) throw new AppError('FLIGHT_EXISTS');
    try {
      await this.seats.provision(flight.id, flight.seatMapVersion, seatMap);
      await this.store.insert(flight);
    } catch (error) {
      await this.store.releaseFlightNumber(flight.flightNumber, day, flight.id);
      throw error;
    }
    return flight;
  }

  async update(id: string, changes: UpdateFlightInput): Promise<Flight> {
    const current = await this.get(id);
    if (current.status === 'cancelled') throw new AppError('FLIGHT_CANCELLED');
    const next: Flight = { ...current, ...changes, updatedAt: this.now().toISOString() };
    const problems = scheduleProblems(next);
    if (problems.length > 0) throw validationFailed(problems);

    const [oldDay, newDay] = [departureDay(current.departureTime), departureDay(next.departureTime)];
    const moved = next.flightNumber !== current.flightNumber || newDay !== oldDay;
    if (moved && !(await this.store.claimFlightNumber(next.flightNumber, newDay, id))) throw new AppError('FLIGHT_EXISTS');
    try {
      await this.store.replace(next, current.updatedAt);
    } catch (error) {
      if (moved) await this.store.releaseFlightNumber(next.flightNumber, newDay, id);
      if (error instanceof ConditionFailed) throw new AppError('FLIGHT_CHANGED');
      throw error;
    }
    if (moved) await this.store.releaseFlightNumber(current.flightNumber, oldDay, id);
    return next;
  }

  /**
   * Cancels in the seats service first (voids holds, marks bookings flight_cancelled), then here.
   * Both steps are idempotent, so a retry after a failure between them completes the cancellation.
   */
  async cancel(id: string): Promise<Flight> {
    const current = await this.get(id);
    await this.seats.cancelFlight(id);
    if (current.status === 'cancelled') return current;
    const cancelled: Flight = { ...current, status: 'cancelled', updatedAt: this.now().toISOString() };
    try {
      await this.store.replace(cancelled, current.updatedAt);
    } catch (error) {
      if (error instanceof ConditionFailed) return this.cancel(id);
      throw error;
    }
    return cancelled;
  }

  async search(routeDay: string, limit: number, after?: Record<string, string>) {
    return this.store.search(routeDay, limit, after);
  }
}
