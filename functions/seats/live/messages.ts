import * as z from '../../../lib/validation';
import { flightId } from '../../../lib/ids';
import type { ChangeEntry, SeatChange, Snapshot, WatchStart } from './store';

/**
 * The WebSocket messages (API.md, "Live seat maps"; docs/asyncapi.yaml). Clients send `subscribe` and
 * `unsubscribe`; the server sends the rest. A connection watches at most MAX_SUBSCRIPTIONS flights;
 * messages never say who holds or booked a seat.
 */

export const MAX_SUBSCRIPTIONS = 10;
/** A client message is a few dozen bytes; anything near this is not one. */
export const MAX_MESSAGE_BYTES = 4096;

export const subscribeMessage = z.strictObject({
  action: z.literal('subscribe'),
  flightId,
  sinceVersion: z.optional(z.number().check(z.int(), z.gte(0))),
});
export const unsubscribeMessage = z.strictObject({ action: z.literal('unsubscribe'), flightId });

export type ErrorCode = 'UNKNOWN_ACTION' | 'VALIDATION_FAILED' | 'FLIGHT_NOT_FOUND' | 'TOO_MANY_SUBSCRIPTIONS' | 'MESSAGE_TOO_LARGE' | 'INVALID_JSON';

export type ServerMessage =
  | { type: 'snapshot'; flightId: string; version: number; seatMapVersion: number; seats: { id: string; status: string; expiresAt?: string }[] }
  | { type: 'seats'; flightId: string; fromVersion: number; version: number; changes: SeatChange[] }
  | { type: 'seatmap'; flightId: string; seatMapVersion: number }
  | { type: 'flight'; flightId: string; status: 'cancelled' }
  | { type: 'unsubscribed'; flightId: string }
  | { type: 'error'; code: ErrorCode; detail: string; flightId?: string };

export const errorMessage = (code: ErrorCode, detail: string, flight?: string): ServerMessage => ({ type: 'error', code, detail, ...(flight ? { flightId: flight } : {}) });

/**
 * A run of changes as few messages: one `seats` message with each changed seat's status at the last
 * version (a client at any version in the run can apply it: see `fromVersion`), then a `seatmap`
 * message if a migration changed the map, and a `flight` message if the flight was cancelled.
 */
export function coalesce(flight: string, entries: ChangeEntry[]): ServerMessage[] {
  const seats = new Map<string, SeatChange>();
  let seatMapVersion: number | undefined;
  let cancelled = false;
  for (const entry of entries) {
    for (const change of entry.seats) {
      seats.delete(change.seat); // keeps the order of the last change of each seat
      seats.set(change.seat, change);
    }
    seatMapVersion = entry.seatMapVersion ?? seatMapVersion;
    cancelled ||= entry.flightStatus === 'cancelled';
  }
  const messages: ServerMessage[] = [{ type: 'seats', flightId: flight, fromVersion: entries[0]!.from, version: entries.at(-1)!.version, changes: [...seats.values()] }];
  if (seatMapVersion !== undefined) messages.push({ type: 'seatmap', flightId: flight, seatMapVersion });
  if (cancelled) messages.push({ type: 'flight', flightId: flight, status: 'cancelled' });
  return messages;
}

/** Every seat's status at a version: a watcher replaces what it had with it, whatever its version was. */
export const snapshotMessage = (flight: string, { version, seatMapVersion, seats }: Snapshot): ServerMessage => ({ type: 'snapshot', flightId: flight, version, seatMapVersion, seats });

/** Where a new watcher starts: the snapshot, or the changes since its version (nothing changed: an empty run). */
export function startMessages(flight: string, start: WatchStart, sinceVersion?: number): ServerMessage[] {
  if (start.kind === 'snapshot') return [snapshotMessage(flight, start)];
  if (start.entries.length === 0) return [{ type: 'seats', flightId: flight, fromVersion: sinceVersion! + 1, version: start.version, changes: [] }];
  return coalesce(flight, start.entries);
}
