import { randomBytes } from 'node:crypto';
import * as z from './validation';

/** Flight ids are shared by the flights service (which makes them) and the seats service (which keys on them). */
export const FLIGHT_ID = /^fl-[0-9a-f]{16}$/;
export const flightId = z.string().check(z.regex(FLIGHT_ID, 'must be a flight id'));
export const newFlightId = () => `fl-${randomBytes(8).toString('hex')}`;
