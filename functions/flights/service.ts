import { AppError, validationFailed } from '../../lib/http/errors';
import { newFlightId } from '../../lib/ids';
import { departureDay, scheduleProblems, type CreateFlightInput, type Flight, type UpdateFlightInput } from './model';
import { log } from '../../lib/log';
import { ConditionFailed, type FlightStore, type Retime } from './store';
import type { SeatsGateway } from './seats-client';

/** Where a search's next page starts: a route-day (`ORIGIN#DEST#YYYY-MM-DD`) and, within it, the key to continue after. */
export interface SearchPosition {
  routeDay: string;
  key?: Record<string, string>;
}

export interface FlightServiceOptions {
  /** Sales close this long before departure (config SALES_CLOSE_MINUTES): search lists only flights on sale. */
  salesCloseMs?: number;
  now?: () => Date;
}

/** The flights service's rules: create (with its seat map), update, cancel, find. */
export class FlightService {
  private readonly now: () => Date;
  private readonly salesCloseMs: number;

  constructor(
    private readonly store: FlightStore,
    private readonly seats: SeatsGateway,
    options: FlightServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.salesCloseMs = options.salesCloseMs ?? 60 * 60_000;
  }

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
    if (Date.parse(schedule.departureTime) <= this.now().getTime()) problems.push({ field: 'departureTime', message: 'must be in the future' });
    if (problems.length > 0) throw validationFailed(problems);
    const at = this.now().toISOString();
    const flight: Flight = { id: newFlightId(), ...schedule, status: 'scheduled', seatMapVersion: 1, createdAt: at, updatedAt: at };
    const day = departureDay(flight.departureTime);
    if (!(await this.store.claimFlightNumber(flight.flightNumber, day, flight.id))) throw new AppError('FLIGHT_EXISTS');
    try {
      // Before the flight exists, so that GET /airports never misses a flight's airport (a failed create
      // leaves an airport listed, which is harmless).
      await this.store.noteAirports([flight.origin, flight.destination]);
      await this.seats.provision(flight.id, flight.seatMapVersion, flight.departureTime, seatMap);
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
    const retimed = next.departureTime !== current.departureTime;
    const timesChanged = retimed || next.arrivalTime !== current.arrivalTime;
    // Travellers hear of a time change (an email per booking): recorded with the change itself.
    const retime: Retime | undefined = timesChanged
      ? { changeId: next.updatedAt, previous: { departureTime: current.departureTime, arrivalTime: current.arrivalTime }, current: { departureTime: next.departureTime, arrivalTime: next.arrivalTime } }
      : undefined;
    if (moved && !(await this.store.claimFlightNumber(next.flightNumber, newDay, id))) throw new AppError('FLIGHT_EXISTS');
    try {
      if (next.origin !== current.origin || next.destination !== current.destination) await this.store.noteAirports([next.origin, next.destination]);
      // The seats service closes sales from the departure: it learns the new one first, and the old one
      // again if the flight record cannot be written.
      if (retimed) await this.seats.schedule(id, next.departureTime);
      await this.store.replace(next, current.updatedAt, retime);
    } catch (error) {
      if (retimed) await this.seats.schedule(id, current.departureTime).catch(() => undefined);
      if (moved) await this.store.releaseFlightNumber(next.flightNumber, newDay, id);
      if (error instanceof ConditionFailed) throw new AppError('FLIGHT_CHANGED');
      throw error;
    }
    if (moved) await this.store.releaseFlightNumber(current.flightNumber, oldDay, id);
    // At once when the seats service answers; otherwise the retime relay's next run does it.
    if (retime) await this.handOverRetimes(id).catch((error: Error) => log.warn('time change left to the retime relay', { flightId: id, error: error.message }));
    return next;
  }

  /**
   * Hands a flight's recorded time changes to the seats service, oldest first, each forgotten once it
   * is acknowledged there (where its change id makes a repeat record nothing).
   */
  async handOverRetimes(id: string): Promise<number> {
    let handedOver = 0;
    for (let retime = await this.store.firstRetime(id); retime; retime = await this.store.firstRetime(id)) {
      await this.seats.retimed(id, retime);
      await this.store.dropRetime(id, retime.changeId);
      handedOver += 1;
    }
    return handedOver;
  }

  /** Hands over the time changes of flights whose PATCH could not (the retime relay, every minute). */
  async handOverAllRetimes(limit: number): Promise<{ flights: number; handedOver: number }> {
    const ids = await this.store.retimedFlights(limit);
    let handedOver = 0;
    for (const id of ids) handedOver += await this.handOverRetimes(id);
    return { flights: ids.length, handedOver };
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

  /**
   * Flights still on sale (API.md: search lists only those) on the route-days given, which are in
   * departure order (`searchDays`), so their pages one after the other are too. A page ends where
   * `limit` is reached; `next` says where the following one starts: a day, and a key within it.
   */
  async search(routeDays: readonly string[], limit: number, from?: SearchPosition): Promise<{ items: Flight[]; next?: SearchPosition }> {
    const onSaleAfter = this.now().getTime() + this.salesCloseMs;
    const items: Flight[] = [];
    let day = from ? routeDays.indexOf(from.routeDay) : 0;
    let after = from?.key;
    for (; day < routeDays.length; day += 1, after = undefined) {
      const routeDay = routeDays[day]!;
      const page = await this.store.search(routeDay, limit - items.length, after);
      items.push(...page.items.filter((flight) => Date.parse(flight.departureTime) > onSaleAfter));
      if (page.lastKey) return { items, next: { routeDay, key: page.lastKey } };
      if (items.length >= limit) return { items, next: day + 1 < routeDays.length ? { routeDay: routeDays[day + 1]! } : undefined };
    }
    return { items };
  }
}
