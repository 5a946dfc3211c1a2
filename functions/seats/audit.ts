import type { Booking, HoldRecord } from './model';
import type { FullSnapshot } from './store';

/**
 * The seat invariants, checked on one atomic snapshot of a flight. Problems are reported, never
 * repaired here: a repair belongs to a person who knows why the state went wrong.
 */

export interface AuditReport {
  ok: boolean;
  counts: { available: number; held: number; booked: number; total: number };
  problems: string[];
}

export function auditSnapshot(snapshot: FullSnapshot): AuditReport {
  const problems: string[] = [];
  const holds = new Map(Object.entries(snapshot.holds).map(([id, raw]) => [id, JSON.parse(raw) as HoldRecord]));
  const bookings = new Map(Object.entries(snapshot.bookings).map(([id, raw]) => [id, JSON.parse(raw) as Booking]));
  const seatIds = Object.keys(snapshot.map);
  let held = 0;
  let booked = 0;

  for (const [seat, marker] of Object.entries(snapshot.state)) {
    if (!(seat in snapshot.map)) problems.push(`seat ${seat} has a status but is not on the seat map`);
    const [kind, id = ''] = [marker.slice(0, 1), marker.slice(2)];
    if (kind === 'H') {
      held += 1;
      const hold = holds.get(id);
      if (!hold) problems.push(`seat ${seat} is held by unknown hold ${id}`);
      else if (hold.status !== 'active') problems.push(`seat ${seat} is held by hold ${id}, which is ${hold.status}`);
      else if (!(id in snapshot.activeHoldExpiries)) problems.push(`seat ${seat} is held by hold ${id}, which never expires`);
      // The hold's reclaim time, not its own expiry: a hold being paid for is kept past it (lua.ts, CHECKOUT_BEGIN).
      else if (snapshot.activeHoldExpiries[id]! <= snapshot.nowMs) problems.push(`seat ${seat} is held by hold ${id}, which has expired`);
      else if (!hold.seats.includes(seat)) problems.push(`seat ${seat} is held by hold ${id}, which does not list it`);
    } else if (kind === 'B') {
      booked += 1;
      const booking = bookings.get(id);
      if (!booking) problems.push(`seat ${seat} is booked by unknown booking ${id}`);
      else if (booking.status !== 'confirmed') problems.push(`seat ${seat} is booked by booking ${id}, which is ${booking.status}`);
      else if (!booking.seats.some((s) => s.id === seat)) problems.push(`seat ${seat} is booked by booking ${id}, which does not list it`);
    } else {
      problems.push(`seat ${seat} has an unreadable status ${marker}`);
    }
  }

  const owners = new Map<string, string>();
  for (const booking of bookings.values()) {
    if (booking.status !== 'confirmed') continue;
    for (const seat of booking.seats) {
      const other = owners.get(seat.id);
      if (other) problems.push(`seat ${seat.id} is in two confirmed bookings: ${other} and ${booking.bookingId}`);
      owners.set(seat.id, booking.bookingId);
      if (snapshot.state[seat.id] !== `B:${booking.bookingId}`) problems.push(`booking ${booking.bookingId} lost seat ${seat.id}`);
    }
  }
  const heldBy = new Map<string, number>();
  for (const hold of holds.values()) {
    if (hold.status !== 'active') continue;
    if (hold.counted) heldBy.set(hold.userId, (heldBy.get(hold.userId) ?? 0) + hold.seats.length);
    for (const seat of hold.seats) {
      if (snapshot.state[seat] !== `H:${hold.holdId}`) problems.push(`active hold ${hold.holdId} lost seat ${seat}`);
    }
  }
  for (const userId of new Set([...heldBy.keys(), ...Object.keys(snapshot.heldBy)])) {
    const counted = snapshot.heldBy[userId] ?? 0;
    const actual = heldBy.get(userId) ?? 0;
    if (counted !== actual) problems.push(`user ${userId} holds ${actual} seats but the hold cap counts ${counted}`);
  }

  for (const seat of snapshot.retired) {
    if (!(seat in snapshot.state)) problems.push(`seat ${seat} was dropped by a migration but is still on the map while free`);
  }

  const total = seatIds.length;
  const available = seatIds.filter((seat) => !(seat in snapshot.state)).length;
  if (available + held + booked !== total) problems.push(`available ${available} + held ${held} + booked ${booked} != total ${total}`);
  return { ok: problems.length === 0, counts: { available, held, booked, total }, problems };
}
