import { serverNow } from '../api';
import { session } from '../session';

/**
 * The caller's own live holds, remembered per user and flight in sessionStorage: the API's seat map
 * never says who holds a seat, so this is how a reloaded flight page still marks "your hold" and shows
 * the countdown. A payment whose outcome is unknown (a network error, a 5xx) lives with the hold, so
 * paying again after a reload is still the same request (the same Idempotency-Key and body).
 */
export interface OwnHold {
  holdId: string;
  flightId: string;
  seats: string[];
  expiresAt: string;
  pendingPayment?: PendingPayment;
}

/** A payment sent whose answer never came: retried with the same key, passengers, contact and method. */
export interface PendingPayment {
  key: string;
  /** The passengers and contact as JSON, to tell whether the form still says the same. */
  details: string;
  paymentMethod?: string;
}

function storageKey(flightId: string): string | undefined {
  const user = session.user();
  return user ? `flight-booking.holds.${user.id}.${flightId}` : undefined;
}

function write(flightId: string, holds: OwnHold[]): void {
  const key = storageKey(flightId);
  if (!key) return;
  if (holds.length) sessionStorage.setItem(key, JSON.stringify(holds));
  else sessionStorage.removeItem(key);
}

/** The remembered holds of this flight that have not expired yet (expired ones are forgotten). */
export function ownHolds(flightId: string): OwnHold[] {
  const key = storageKey(flightId);
  const saved = key ? sessionStorage.getItem(key) : null;
  let holds: OwnHold[] = [];
  try {
    holds = saved ? (JSON.parse(saved) as OwnHold[]) : [];
  } catch {
    // Unreadable: as if nothing were remembered.
  }
  const live = holds.filter((hold) => Date.parse(hold.expiresAt) > serverNow());
  if (live.length !== holds.length) write(flightId, live);
  return live;
}

export function rememberHold(hold: OwnHold): void {
  write(hold.flightId, [...ownHolds(hold.flightId).filter((kept) => kept.holdId !== hold.holdId), hold]);
}

/**
 * Seats picked before logging in: kept across the trip to the login page (the flight page is rendered
 * anew afterwards) and handed back once, to the first flight page of that flight.
 */
const pickedKey = (flightId: string) => `flight-booking.picked.${flightId}`;

export function keepPicked(flightId: string, seats: string[]): void {
  sessionStorage.setItem(pickedKey(flightId), JSON.stringify(seats));
}

export function takePicked(flightId: string): string[] {
  const saved = sessionStorage.getItem(pickedKey(flightId));
  sessionStorage.removeItem(pickedKey(flightId));
  try {
    const seats: unknown = saved ? JSON.parse(saved) : [];
    return Array.isArray(seats) ? seats.filter((seat): seat is string => typeof seat === 'string') : [];
  } catch {
    return [];
  }
}

/** One remembered hold of a flight, if this tab remembers it. */
export function ownHold(flightId: string, holdId: string): OwnHold | undefined {
  return ownHolds(flightId).find((hold) => hold.holdId === holdId);
}

export function forgetHold(flightId: string, holdId: string): void {
  write(flightId, ownHolds(flightId).filter((kept) => kept.holdId !== holdId));
}
