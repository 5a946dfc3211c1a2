import { BOOKING_ID, HOLD_ID } from '../../lib/ids';

/**
 * Every Redis key the seats service uses, in one place. A flight's keys share the hash tag
 * `{flight:ID}`, so they sit in one Redis Cluster slot and one Lua script may touch them all.
 *
 *   seats:{flight:ID}:map       HASH  seat id → JSON {class, price}          the seat map
 *   seats:{flight:ID}:state     HASH  seat id → "H:<holdId>" | "B:<bookingId>"  absent = available
 *   seats:{flight:ID}:meta      HASH  version (bumped on every status change), mapVersion, status,
 *                                     fence (the last migration's fence token)
 *   seats:{flight:ID}:holdexp   ZSET  active hold id → expiry (ms)          what the scripts reclaim
 *   seats:{flight:ID}:holds     HASH  hold id → JSON hold                   kept a day after it ends
 *   seats:{flight:ID}:holdgc    ZSET  ended hold id → when to forget it (ms)
 *   seats:{flight:ID}:bookings  HASH  booking id → JSON booking
 *   seats:{flight:ID}:retired   HASH  seat id → 1: dropped by a migration, kept while held/booked
 *   seats:{flight:ID}:pending   HASH  seat id → JSON {class, price} to apply once the seat is free
 *   seats:{flight:ID}:heldby    HASH  user id → seats held in live holds  the per-person hold cap
 *   seats:{flight:ID}:changes   STREAM  one entry per change, id <version>-<n>: from (first version
 *                                     it covers), seats (JSON [{seat, status, expiresAtMs?}]),
 *                                     seatMapVersion?, flightStatus?  (live seat maps)
 *   seats:{flight:ID}:watchers  ZSET  connection id → when its subscription lapses (ms)
 *   seats:{flight:ID}:live-kick STRING  set while a broadcast of this flight is due or running
 *   seats:{flight:ID}:live-sent STRING  the last version broadcast to the watchers
 *   seats:{flight:ID}:notices   STREAM  booking emails to send, one entry per event: id, event (JSON,
 *                                     functions/notifications/model.ts); recorded by the script that
 *                                     makes the change, removed once handed over (notices-relay.ts)
 *   seats:{flight:ID}:acks      STRING  a counter written before WAIT (lib/clients/redis.ts)
 *   seats:{user:ID}:bookings    ZSET  booking id → created (ms)             the user's list (own slot)
 *   seats:{flight:ID}:idem:<user>:<sha>  STRING  an Idempotency-Key's fingerprint and stored answer
 *   seats:{user:ID}:idemflight:<sha>  STRING  the flight a user's Idempotency-Key was used on
 *   seats:{ref:REFERENCE}       STRING  booking id: a record locator, unique (references.ts)
 *   seats:{bookings}:all        ZSET  booking id → created (ms)             every booking (the payments audit)
 *   seats:{refunds}:due         ZSET  flight id → since (ms)                flights with refunds to make (refunds.ts)
 *   seats:{notices}:due         ZSET  flight id → last marked (ms)          flights that may have notices (notices.ts)
 *   seats:{notices}:kick        STRING  set while a relay run is due to start (notices.ts)
 */
const FLIGHT_KEY_PARTS = ['map', 'state', 'meta', 'holdexp', 'holds', 'holdgc', 'bookings', 'retired', 'pending', 'heldBy', 'changes', 'watchers', 'liveKick', 'liveSent', 'notices'] as const;
/** Keys of the flight's slot that no script takes. */
const OTHER_FLIGHT_KEYS = ['acks'] as const;
export type FlightKeys = Record<(typeof FLIGHT_KEY_PARTS)[number] | (typeof OTHER_FLIGHT_KEYS)[number], string>;

export function flightKeys(flightId: string): FlightKeys {
  const tag = `seats:{flight:${flightId}}`;
  const names: Partial<Record<keyof FlightKeys, string>> = { heldBy: 'heldby', liveKick: 'live-kick', liveSent: 'live-sent' };
  return Object.fromEntries([...FLIGHT_KEY_PARTS, ...OTHER_FLIGHT_KEYS].map((part) => [part, `${tag}:${names[part] ?? part}`])) as FlightKeys;
}

/** The flight's keys, then the Idempotency-Key record of the request (a placeholder when it has none). */
export const SCRIPT_KEY_COUNT = FLIGHT_KEY_PARTS.length + 1;

/** The KEYS every seats script takes, in the order lua.ts reads them. */
export function scriptKeys(flightId: string, idempotency?: { userId: string; keyDigest: string }): string[] {
  const keys = flightKeys(flightId);
  const record = idempotency ? `seats:{flight:${flightId}}:idem:${idempotency.userId}:${idempotency.keyDigest}` : `seats:{flight:${flightId}}:idem:none`;
  return [...FLIGHT_KEY_PARTS.map((part) => keys[part]), record];
}

export const userBookingsKey = (userId: string) => `seats:{user:${userId}}:bookings`;
export const referenceKey = (reference: string) => `seats:{ref:${reference}}`;
export const ALL_BOOKINGS_KEY = 'seats:{bookings}:all';
export const REFUNDS_DUE_KEY = 'seats:{refunds}:due';
export const NOTICES_DUE_KEY = 'seats:{notices}:due';
export const NOTICES_KICK_KEY = 'seats:{notices}:kick';
export const idempotencyFlightKey = (userId: string, keyDigest: string) => `seats:{user:${userId}}:idemflight:${keyDigest}`;

/**
 * Hold and booking ids carry their flight's id, so `/holds/{id}` and `/bookings/{id}` find the flight's
 * keys (one slot) without a cross-slot index.
 */
export function flightOfId(id: string): string | undefined {
  return (HOLD_ID.exec(id) ?? BOOKING_ID.exec(id))?.[1];
}
