import { randomBytes } from 'node:crypto';
import * as z from './validation';

/**
 * The formats of every id the API takes in a path, in one place: the handlers validate against them,
 * the HTTP stack answers a malformed one with its resource's 404 (lib/http/path-params.ts), and the
 * OpenAPI document declares them as patterns, so generated clients and fuzzers know the format.
 */

/** Flight ids are made by the flights service and keyed on by the seats service. */
export const FLIGHT_ID = /^fl-[0-9a-f]{16}$/;
export const flightId = z.string().check(z.regex(FLIGHT_ID, 'must be a flight id'));
export const newFlightId = () => `fl-${randomBytes(8).toString('hex')}`;

const FLIGHT_ID_BODY = FLIGHT_ID.source.slice(1, -1);
/** Hold and booking ids carry their flight's id (see functions/seats/keys.ts): `h_<flightId>_<16 random>`. */
export const HOLD_ID = new RegExp(`^h_(${FLIGHT_ID_BODY})_[A-Za-z0-9_-]{16}$`);
export const BOOKING_ID = new RegExp(`^b_(${FLIGHT_ID_BODY})_[A-Za-z0-9_-]{16}$`);
/** A charge's key at the payments service: the hold it pays for and the attempt (`<holdId>.<n>`). */
export const PAYMENT_KEY = new RegExp(`^h_${FLIGHT_ID_BODY}_[A-Za-z0-9_-]{16}\\.[1-9][0-9]{0,2}$`);
export const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A single migration's id is a UUID; a batch's migrations have ids hashed from batch and flight. */
export const MIGRATION_ID = /^([0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
export const BATCH_ID = /^[0-9a-f]{24}$/;
export const SERVICE_NAME = /^[a-z][a-z0-9-]{1,62}$/;
export const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
